"""The archive's schema brought to the newest revision with Alembic (revisions/), on the
connection and in the transaction the caller gives, on PostgreSQL and SQLite alike. SQLite
archives older than Alembic's baseline are first brought to it by migrations/ (then stamped)."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from monitor.errors import ArchiveError

# The revision whose schema is SQLite's version 13, the last of migrations/.
BASELINE = "r13_baseline"

# What PostgreSQL archives have beyond tables.py: the full-text index of articles, what it
# lacks, and the indexes in search order (revisions r14, r15; SQLite's index is its FTS5 table,
# made with the baseline); the per-host turns of the daemons sharing it (r16).
POSTGRES_ONLY = frozenset(
    {
        "search", "search_gaps", "articles_search", "articles_published_seq", "articles_with_gaps",
        "host_slots", "host_gaps",
    }
)  # fmt: skip
SQLITE_ONLY = frozenset(
    {"articles_fts"} | {f"articles_fts_{part}" for part in ("config", "content", "data", "docsize", "idx")}
)


_making_new: ContextVar[bool] = ContextVar("making_new", default=False)


class _RoutineLines(logging.Filter):
    """Alembic says which dialect it uses every time an archive opens, and each revision's whole
    docstring as it applies it. The monitor logs a line per revision applied to an archive that
    existed ("Running upgrade r14_search -> r15_search_gaps, What each article's full-text index
    lacks"), and nothing while it makes a new one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(("Context impl", "Will assume")):
            return False
        if message == "Running %s" and isinstance(record.args, tuple) and record.args:
            if _making_new.get():
                return False
            step = record.args[0]
            doc = " ".join(str(getattr(step, "doc", "") or "").split())
            headline = doc.split(": ")[0].split(". ")[0].split(" (")[0]
            shown = " ".join(str(getattr(step, "short_log", step)).split())  # "stamp_revision  -> r13"
            record.msg, record.args = (
                ("Running %s, %s", (shown, headline)) if headline else ("Running %s", (shown,))
            )
        return True


logging.getLogger("alembic.runtime.migration").addFilter(_RoutineLines())

# Held while upgrading a PostgreSQL archive, so that daemons starting together on a new database
# take turns: the first makes the tables, the others find them made. Named per schema, as the
# tables are. (A SQLite archive is upgraded inside BEGIN IMMEDIATE, which is a turn already.)
_UPGRADE_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/upgrade', 0))")

_TABLES = {
    "postgresql": text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ),
    "sqlite": text("SELECT name FROM sqlite_master WHERE type = 'table'"),
}


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.archive:revisions")
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def known_revisions() -> frozenset[str]:
    """The revisions this program knows."""
    return frozenset(revision.revision for revision in _script().walk_revisions())


def head_revision() -> str:
    """The newest of them (schema_revision.NEWEST_REVISION says the same without Alembic)."""
    return _script().get_current_head() or ""


def revision_of(connection: Connection) -> str | None:
    """The revision the archive is at (None before Alembic's version table exists). Reads only."""
    return MigrationContext.configure(connection).get_current_revision()


def stamp(connection: Connection, revision: str) -> None:
    """Record that the archive is at `revision` without running anything: for SQLite archives
    that migrations/ brought to the baseline."""
    command.stamp(_config(connection), revision)


def upgrade(connection: Connection, to: str = "head") -> None:
    """Apply the revisions the database lacks (up to `to`, for tests of an upgrade), one process
    at a time; ArchiveError, changing nothing, when it holds a revision this program does not
    know (a newer monitor wrote it), or (PostgreSQL) tables another program made."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(_UPGRADE_LOCK)
    known = known_revisions()
    current = revision_of(connection)
    tables = set(connection.execute(_TABLES[dialect]).scalars()) - {"alembic_version"}
    if dialect == "sqlite":
        where, instead = "the file", "point storage.url at a new file"
    else:
        where = f"schema {connection.execute(text('SELECT current_schema()')).scalar()!r}"
        instead = "give an empty database, or a schema of its own (?options=-csearch_path%3Dname)"
    if current is None and tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise ArchiveError(
            f"{where} holds tables the monitor did not make ({shown}): it is left unchanged; {instead}"
        )
    if current is not None and current not in known:
        if not {"articles", "sources", "alerts"} <= tables:
            raise ArchiveError(
                f"{where} holds another program's tables (Alembic revision {current!r}): "
                f"it is left unchanged; {instead}"
            )
        raise ArchiveError(
            f"the archive has schema revision {current!r}, newer than this program knows: upgrade the monitor"
        )
    making = _making_new.set(current is None)
    try:
        command.upgrade(_config(connection), to)
    finally:
        _making_new.reset(making)
