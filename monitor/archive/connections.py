"""The archive's connections: the SQLite engine (engine.py), brought to the newest schema, and
the transactions its reads and writes run in."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.archive.engine import sqlite_engine
from monitor.archive.migrations import migrate
from monitor.errors import ArchiveError


class SqlConnections:
    def __init__(self, url: str) -> None:
        # Writers of this process queue here, woken the moment the lock is free; SQLite's busy
        # handler (for writers in other processes) polls with sleeps of up to 100 ms instead.
        self.write_lock = threading.Lock()
        if not url.startswith("sqlite:"):
            raise ArchiveError(f"unsupported storage URL {url!r}: only sqlite:/// for now")
        try:
            self.engine = sqlite_engine(url)
            with self.engine.begin() as connection:
                migrate(connection)
        except SQLAlchemyError as error:
            raise ArchiveError(f"cannot open the archive at {url}: {error}") from error

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.write_lock, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with (
            self.engine.connect().execution_options(reading=True) as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def _searching(self) -> Iterator[sqlite3.Cursor]:
        """A driver cursor in a read transaction of its own, for search (search_sql says why).
        SQLAlchemy's connection and begin events alone cost as much as finding a rare phrase."""
        pooled = self.engine.raw_connection()
        try:
            driver: sqlite3.Connection = pooled.driver_connection  # type: ignore[assignment]
            driver.execute("BEGIN")
            try:
                yield driver.cursor()
            finally:
                driver.execute("ROLLBACK")  # it wrote nothing
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot read the archive: {error}") from error
        finally:
            pooled.close()
