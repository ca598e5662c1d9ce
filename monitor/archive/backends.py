"""The one place an archive adapter is picked, from the config's storage URL: sqlite:///path (the
embedded default) or postgresql://… (shared by several daemons; see docs/architecture.md for
adding a backend)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.archive import Archive
from monitor.archive.urls import is_postgres_url
from monitor.config.settings import Settings, StorageSettings
from monitor.errors import UsageError


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


@contextmanager
def reading_archive(settings: Settings, warn: Callable[[str], None]) -> Iterator[Archive]:
    """The configured archive for a command that reads it. A SQLite file that is not there reads
    as an empty archive, made in a temporary folder, said through `warn`: the config may not be
    the daemon's, and an empty file made at its path would keep every later search silent."""
    absent = no_archive_yet(settings.database_url())
    with tempfile.TemporaryDirectory(prefix="monitor-empty-") as folder:
        if absent is not None:
            warn(f"{absent}: read as an empty one")
        url = f"sqlite:///{Path(folder) / 'empty.db'}" if absent is not None else settings.database_url()
        archive = open_archive(settings.model_copy(update={"storage": StorageSettings(url=url)}))
        try:
            yield archive
        finally:
            archive.close()


def no_archive_yet(url: str) -> str | None:
    """What a reading command says of a SQLite archive whose file is not there; None for one
    that is, and for PostgreSQL."""
    path = Path(url.removeprefix("sqlite:///"))
    if is_postgres_url(url) or path.is_file():
        return None
    if path.is_dir():
        raise UsageError(f"the archive's path {path} is a folder: storage.url names a file")
    return (
        f"no archive at {url.removeprefix('sqlite:///')} yet "
        "(`monitor once` or `monitor run` makes it; is storage.url the daemon's?)"
    )
