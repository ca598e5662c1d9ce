"""Media-monitoring feed ingester: watch rules over news sources, an archive, keyword alerts."""

__version__ = "0.1.0"
