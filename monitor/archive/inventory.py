"""`monitor archive stats`: an archive's size and content, read in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, distinct, func, select, text

from monitor.archive.connections import Transactions
from monitor.archive.copying import COUNTED
from monitor.archive.tables import alerts, articles

MOST_LISTED = 20  # sources and languages shown, the largest first


def archive_inventory(db: Transactions, url: str) -> dict[str, Any]:
    """What the archive at `url` holds: rows per table, articles matched and stories, the span of
    their dates, the largest sources and languages, alerts by state, the schema revision and the
    bytes it takes on disk."""
    with db.reading() as reading:
        first, last = reading.execute(
            select(func.min(articles.c.published), func.max(articles.c.published))
        ).one()
        return {
            "backend": reading.dialect.name,
            "schema_revision": reading.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
            "bytes": _bytes(reading, url),
            "rows": {
                name: int(reading.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in COUNTED.items()
            },
            "articles_matched": _count(reading, articles.c.matched == 1),
            "stories": int(reading.execute(select(func.count(distinct(articles.c.story)))).scalar_one()),
            "first_published": first.isoformat() if first else None,
            "last_published": last.isoformat() if last else None,
            "sources": _largest(reading, articles.c.source),
            "languages": _largest(reading, articles.c.language),
            "alerts": dict(
                reading.execute(select(alerts.c.state, func.count()).group_by(alerts.c.state)).all()
            ),
        }


def _count(reading: Connection, condition: Any) -> int:
    return int(reading.execute(select(func.count()).select_from(articles).where(condition)).scalar_one())


def _largest(reading: Connection, column: Any) -> dict[str, int]:
    """Articles by the column's value, the MOST_LISTED largest (none: "-")."""
    rows = reading.execute(
        select(column, func.count().label("n")).group_by(column).order_by(text("n DESC")).limit(MOST_LISTED)
    ).all()
    return {value or "-": count for value, count in rows}


def _bytes(reading: Connection, url: str) -> int:
    """The archive's size on disk: a SQLite file with its write-ahead log, or the tables of a
    PostgreSQL schema with their indexes and TOAST."""
    if reading.dialect.name == "postgresql":
        size = reading.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
            )
        ).scalar_one()
        return int(size)
    path = Path(url.removeprefix("sqlite:///"))
    return sum(part.stat().st_size for part in (path, Path(f"{path}-wal")) if part.exists())
