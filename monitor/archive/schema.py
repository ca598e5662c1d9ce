"""The archive's schema brought to the newest revision with Alembic (revisions/), on the
connection and in the transaction the caller gives. PostgreSQL archives only, for now."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from monitor.errors import ArchiveError

# What PostgreSQL archives have beyond tables.py (revision r14_search): the full-text index of
# articles and the index in search order. SQLite's index is its FTS5 table (migrations.py).
POSTGRES_ONLY = frozenset({"search", "articles_search", "articles_published_seq"})


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.archive:revisions")
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Apply the revisions the database lacks; ArchiveError, changing nothing, when it holds a
    revision this program does not know (a newer monitor wrote it)."""
    config = _config(connection)
    known = {revision.revision for revision in ScriptDirectory.from_config(config).walk_revisions()}
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in known:
        raise ArchiveError(
            f"the archive has schema revision {current!r}, newer than this program knows: upgrade the monitor"
        )
    command.upgrade(config, "head")
