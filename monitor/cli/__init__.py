"""The `monitor` command: one module per command group (see main.py)."""

from monitor.cli.main import main

__all__ = ["main"]
