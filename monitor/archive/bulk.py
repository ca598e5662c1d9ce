"""Inserts of many rows in one statement.

The sqlite3 driver lets go of the GIL at every step of a statement, and executemany steps once
per row: a store of five articles (with their hits, index rows and sixteen band keys each) took
a hundred GIL round trips inside the write lock, and under a busy pass each waits for the
threads parsing and matching. Here the rows go as one JSON array that SQLite reads with
json_each: one step, and one statement text whatever the number of rows. (A multi-row VALUES
is a new statement for every row count, and the driver keeps 128 prepared per connection,
each as large as its text: memory a 10,000-source daemon cannot spare.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

Value = str | int | float | None  # what JSON carries as is (blobs do not go this way)
IN_JSON = "(SELECT value FROM json_each(?))"  # a list given as one parameter (json_list)


def insert_rows(
    cursor: sqlite3.Cursor,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Value]],
    on_conflict: str = "",
) -> None:
    """INSERT the rows (values in the order of `columns`, datetimes as tables.stored_datetime
    gives them) in one statement; `on_conflict` is an ON CONFLICT clause, if any."""
    if not rows:
        return
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(f"value ->> {index}" for index in range(len(columns)))
    # WHERE true: without it, SQLite would read ON CONFLICT as a join's ON.
    statement = f"INSERT INTO {table} ({names}) SELECT {values} FROM json_each(?) WHERE true {on_conflict}"
    cursor.execute(statement, (json.dumps(rows, ensure_ascii=False),))


def json_list(values: Sequence[Value]) -> str:
    """A list as the one parameter of an `IN {IN_JSON}`: one statement text whatever its length."""
    return json.dumps(values, ensure_ascii=False)
