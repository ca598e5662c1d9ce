"""Inserts of many rows in few statements.

The sqlite3 driver lets go of the GIL for every step of a statement, and executemany steps once
per row: a store of five articles (with their hits, index rows and sixteen band keys each) took
a hundred GIL round trips inside the write lock, and under a busy pass each waits for the
threads parsing and matching. One multi-row INSERT is one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection

MOST_VARIABLES = 32_766  # SQLite's default limit on bound parameters per statement (3.32+)


def insert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    suffix: str = "",
) -> None:
    """INSERT the rows (values in the order of `columns`, as the driver binds them: see
    `stored_datetime`) in as few statements as the parameter limit allows; `suffix` is an
    ON CONFLICT clause, if any."""
    if not rows:
        return
    names = ", ".join(f'"{column}"' for column in columns)
    placeholders = "(" + ", ".join("?" * len(columns)) + ")"
    per_statement = max(1, MOST_VARIABLES // len(columns))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        values = ", ".join([placeholders] * len(part))
        parameters = tuple(value for row in part for value in row)
        connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES {values}{suffix}", parameters)


def stored_datetime(value: datetime) -> str:
    """A datetime as the archive stores it (tables.UtcDateTime through SQLAlchemy's SQLite
    DATETIME): UTC, microseconds always written, so that text order is time order."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the archive")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
