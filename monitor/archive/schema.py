"""The archive's schema brought to the newest revision with Alembic (revisions/), on the
connection and in the transaction the caller gives. PostgreSQL archives only, for now."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from monitor.errors import ArchiveError

# What PostgreSQL archives have beyond tables.py: the full-text index of articles, what it
# lacks, and the indexes in search order (revisions r14, r15; SQLite's index is its FTS5 table,
# migrations.py); the per-host turns of the daemons sharing it (r16).
POSTGRES_ONLY = frozenset(
    {
        "search", "search_gaps", "articles_search", "articles_published_seq", "articles_with_gaps",
        "host_slots", "host_gaps",
    }
)  # fmt: skip


class _RoutineLines(logging.Filter):
    """Alembic says which dialect it uses every time an archive opens; the monitor logs the
    revisions it applies ("Running upgrade r14_search -> r15_search_gaps") and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_RoutineLines())

# Held while upgrading, so that daemons starting together on a new database take turns: the
# first makes the tables, the others find them made. Named per schema, as the tables are.
_UPGRADE_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/upgrade', 0))")


_TABLES = text("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.archive:revisions")
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, to: str = "head") -> None:
    """Apply the revisions the database lacks (up to `to`, for tests of an upgrade), one process
    at a time; ArchiveError, changing nothing, when it holds a revision this program does not
    know (a newer monitor wrote it)."""
    connection.execute(_UPGRADE_LOCK)
    config = _config(connection)
    known = {revision.revision for revision in ScriptDirectory.from_config(config).walk_revisions()}
    current = MigrationContext.configure(connection).get_current_revision()
    tables = set(connection.execute(_TABLES).scalars()) - {"alembic_version"}
    schema = connection.execute(text("SELECT current_schema()")).scalar()
    if current is None and tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise ArchiveError(
            f"schema {schema!r} holds tables the monitor did not make ({shown}): it is left unchanged; "
            "give an empty database, or a schema of its own (?options=-csearch_path%3Dname)"
        )
    if current is not None and current not in known:
        if not {"articles", "sources", "alerts"} <= tables:
            raise ArchiveError(
                f"schema {schema!r} holds another program's tables (Alembic revision {current!r}): "
                "it is left unchanged; give an empty database or a schema of its own"
            )
        raise ArchiveError(
            f"the archive has schema revision {current!r}, newer than this program knows: upgrade the monitor"
        )
    command.upgrade(config, to)
