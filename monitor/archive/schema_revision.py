"""Whether an archive's schema is at the newest revision, read without Alembic: every opening of
an archive but the first after the monitor is upgraded finds it so, and loading Alembic to say
so was a third of a second of each `monitor search`."""

from __future__ import annotations

from sqlalchemy import Connection, text

# The head of revisions/versions (tests/archive/test_schema_revision.py keeps them the same).
NEWEST_REVISION = "r22_words_missing"

_VERSION_TABLE = {
    "sqlite": text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"),
    # In the connection's schema (search_path), as Alembic reads it; a query of a missing table
    # would end PostgreSQL's transaction.
    "postgresql": text(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'alembic_version'"
    ),
}


def is_newest(connection: Connection) -> bool:
    """Whether Alembic's version table holds the newest revision, and it alone."""
    if not connection.execute(_VERSION_TABLE[connection.dialect.name]).scalar_one():
        return False
    held = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return held == [NEWEST_REVISION]
