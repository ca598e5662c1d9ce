"""The one place an archive adapter is picked, from the config's storage URL (today SQLite;
see docs/architecture.md for adding a backend)."""

from __future__ import annotations

from monitor.archive import Archive
from monitor.archive.sql import SqlArchive
from monitor.config.settings import Settings


def open_archive(settings: Settings) -> Archive:
    """The configured archive, brought to the newest schema; ArchiveError when it cannot be
    opened (a refused URL, a file that is not ours, a damaged one)."""
    return SqlArchive(settings.database_url(), settings.story_grouping())
