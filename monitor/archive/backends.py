"""The one place an archive adapter is picked, from the config's storage URL: sqlite:///path (the
embedded default) or postgresql://… (shared by several daemons; see docs/architecture.md for
adding a backend)."""

from __future__ import annotations

from monitor.archive import Archive
from monitor.archive.urls import is_postgres_url
from monitor.config.settings import Settings


def open_archive(settings: Settings) -> Archive:
    """The configured archive, brought to the newest schema; ArchiveError when it cannot be
    opened (a refused URL, a file that is not ours, a damaged one, a server out of reach)."""
    # Only the adapter asked for is imported: a SQLite desk never loads PostgreSQL's.
    url = settings.database_url()
    if is_postgres_url(url):
        from monitor.archive.pg_archive import PostgresArchive

        return PostgresArchive(url, settings.story_grouping())
    from monitor.archive.sql import SqlArchive

    return SqlArchive(url, settings.story_grouping())
