"""The archive's schema brought to the newest revision with Alembic (revisions/), on the
connection and in the transaction the caller gives. PostgreSQL archives only, for now."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from monitor.errors import ArchiveError

# What PostgreSQL archives have beyond tables.py (revisions r14_search, r15_search_gaps): the
# full-text index of articles, what it lacks, and the indexes in search order. SQLite's index
# is its FTS5 table (migrations.py).
POSTGRES_ONLY = frozenset(
    {"search", "search_gaps", "articles_search", "articles_published_seq", "articles_with_gaps"}
)


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.archive:revisions")
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, to: str = "head") -> None:
    """Apply the revisions the database lacks (up to `to`, for tests of an upgrade); ArchiveError,
    changing nothing, when it holds a revision this program does not know (a newer monitor
    wrote it)."""
    config = _config(connection)
    known = {revision.revision for revision in ScriptDirectory.from_config(config).walk_revisions()}
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in known:
        raise ArchiveError(
            f"the archive has schema revision {current!r}, newer than this program knows: upgrade the monitor"
        )
    command.upgrade(config, to)
