"""Versioned schema migrations. The version lives in SQLite's `PRAGMA user_version`.

Each migration is a function of a connection inside the migrating transaction; append new ones,
never edit an applied one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from monitor.archive.tables import metadata
from monitor.errors import ArchiveError


def _m0001_initial(connection: Connection) -> None:
    metadata.create_all(connection)
    connection.execute(
        text(
            "CREATE VIRTUAL TABLE articles_fts USING fts5("
            "title, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
    )


MIGRATIONS: list[Callable[[Connection], None]] = [_m0001_initial]


def migrate(connection: Connection) -> int:
    """Bring the schema to the newest version; returns the version now in force."""
    current = int(connection.execute(text("PRAGMA user_version")).scalar_one())
    if current > len(MIGRATIONS):
        raise ArchiveError(
            f"the archive has schema version {current}, newer than this program knows "
            f"({len(MIGRATIONS)}): upgrade the monitor"
        )
    for version in range(current, len(MIGRATIONS)):
        MIGRATIONS[version](connection)
        connection.execute(text(f"PRAGMA user_version = {version + 1}"))
    return len(MIGRATIONS)
