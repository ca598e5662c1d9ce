"""psycopg connections for the archive's hot reads (search, a poll's look-up of its entries), kept
apart from SQLAlchemy's pool, as SQLite's are (connections.py): a checkout there (events, the
isolation level set and reset, the reset on return) cost a search for a rare phrase a third of
its time. Each runs in autocommit: a statement reads what was committed when it began, without
a BEGIN and a COMMIT round trip."""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from monitor.archive.connections import explained
from monitor.errors import ArchiveError

MOST_READERS = 5  # connections reading at once in one process; more wait for one
READER_WAIT = 30.0  # seconds a read waits for a connection before it fails
# A connection unused this long is tested before use (a round trip): the server may have
# restarted or dropped it meanwhile. One in steady use is not; a failure on it is reported, the
# connection replaced, and every other idle one tested before its next use (a server that drops
# one session has usually dropped them all).
IDLE_SECONDS = 10.0
IDLE_KEPT = 300.0  # an idle connection unused this long is closed: the server's sessions are shared

Connection = psycopg.Connection[Any]


class Readers:
    """Up to MOST_READERS connections made by `connect`, reused while they work."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self.connect = connect
        self._idle: list[tuple[Connection, float]] = []  # with when each was returned
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MOST_READERS)
        self._broken_at = -IDLE_SECONDS  # when a connection was last found broken
        self._closed = False
        # Milliseconds, of the connections whose statement_timeout this process set.
        self._statement_timeouts: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()

    @contextmanager
    def cursor(self, time_limit: float | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor of a reader, whose driver errors surface as ArchiveError; each statement
        stopped after `time_limit` seconds (None: the server's statement_timeout)."""
        if self._closed:
            raise ArchiveError("cannot read the archive: it was closed")
        if not self._slots.acquire(timeout=READER_WAIT):
            raise ArchiveError(f"cannot read the archive: no connection free within {READER_WAIT:.0f} s")
        try:
            connection = self._take()
            try:
                self._limit_statements(connection, time_limit)
                yield connection.cursor()
            except psycopg.Error as error:
                raise ArchiveError(f"cannot read the archive: {explained(error)}") from error
            finally:
                self._give_back(connection)
        finally:
            self._slots.release()

    def _limit_statements(self, connection: Connection, time_limit: float | None) -> None:
        """The connection's statement_timeout set to `time_limit` (None: the server's, which
        a DBA may have set), a round trip only when it changes: the searches of the read side
        all ask for the same, a poll's look-ups for none."""
        wanted = None if time_limit is None else max(1, math.ceil(time_limit * 1000))
        if self._statement_timeouts.get(connection) == wanted:
            return
        if wanted is None:
            connection.execute("RESET statement_timeout")
            self._statement_timeouts.pop(connection, None)
        else:
            connection.execute(f"SET statement_timeout = {wanted}")
            self._statement_timeouts[connection] = wanted

    def close(self) -> None:
        """Close the idle connections, and those in use as they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection, _returned in idle:
            connection.close()

    def _take(self) -> Connection:
        now = time.monotonic()
        with self._lock:
            stale = [connection for connection, returned in self._idle if now - returned >= IDLE_KEPT]
            self._idle = [
                (connection, returned) for connection, returned in self._idle if now - returned < IDLE_KEPT
            ]
            connection, returned = self._idle.pop() if self._idle else (None, 0.0)
        for unused in stale:
            unused.close()
        if connection is not None and (now - returned >= IDLE_SECONDS or returned <= self._broken_at):
            try:
                connection.execute("SELECT 1")
            except psycopg.Error:  # dropped while idle: replaced unnoticed
                connection.close()
                connection = None
        if connection is None:
            try:
                connection = self.connect()
            except psycopg.Error as error:
                raise ArchiveError(f"cannot read the archive: {explained(error)}") from error
        return connection

    def _give_back(self, connection: Connection) -> None:
        if connection.broken:
            self._broken_at = time.monotonic()  # the idle ones are tested before their next use
        if (
            self._closed
            or connection.closed
            or connection.broken
            or connection.info.transaction_status != _IDLE
        ):
            connection.close()
            return
        with self._lock:
            if self._closed:
                connection.close()
                return
            self._idle.append((connection, time.monotonic()))


_IDLE = psycopg.pq.TransactionStatus.IDLE
