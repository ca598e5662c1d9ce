"""Searches with a time limit (the read side's: one query asking too much, `NOT k*` over a
million articles, must not hold a read thread or a PostgreSQL connection for minutes).

SQLite stops a statement when its progress handler says so, checked every few thousand steps of
its virtual machine; the rows a search verifies in Python are read between those steps, and
the time left is checked before each chunk. One step is not stopped: the one in which the
full-text index gathers a prefix's matches (about a second for `k*` at a million articles), by
which a search may end that much past its limit. PostgreSQL stops a statement at its
`statement_timeout`; a search runs several (chunks read newest first), so the time left is
checked between them, and the last may run its full timeout: at worst twice the limit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from monitor.errors import SearchTooSlow

# SQLite virtual-machine steps between two looks at the clock: a few microseconds of its work,
# so that the look costs nothing measurable.
STEPS_BETWEEN_CHECKS = 2000
# s a search must have waited for the processor to be said stopped by a busy server: a limit of
# milliseconds (a test's) is no measure of it.
WAITED = 0.05


class Deadline:
    """The moment a search must end by (time.monotonic), or none; and, when `cpu_seconds` is
    given, the processor time the thread that made it may spend before (time.thread_time: a
    search slowed by others sharing the processor spends none while it waits). Made, and
    looked at, on the thread that searches."""

    def __init__(
        self, seconds: float | None, cpu_seconds: float | None = None, work_here: bool = True
    ) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.cpu_began = time.thread_time()
        self.cpu_at = None if cpu_seconds is None else self.cpu_began + cpu_seconds
        self.work_here = work_here  # the search's work is this thread's (SQLite), not a server's

    def stopped(self) -> SearchTooSlow:
        """The SearchTooSlow of a search stopped at this deadline. When its thread had the
        processor for less than half of the time, the query was not what took long (a one-word
        search over a few thousand articles stopped on a crowded server): it says so."""
        seconds = self.seconds or 0.0
        if not self.work_here:  # the database server's load is not seen from here
            either = (
                "the database was busy, or the query asks too much: try again shortly, or "
                + SearchTooSlow.NARROW
            )
            return SearchTooSlow(seconds, either)
        ran = time.thread_time() - self.cpu_began
        if ran < seconds / 2 and seconds - ran >= WAITED:
            waited = (
                f"it had the processor for {ran:.1f} s of them (the server was busy, or waiting for "
                "the disk): try again shortly"
            )
            return SearchTooSlow(seconds, waited, waited=True)
        return SearchTooSlow(seconds)

    def passed(self) -> bool:
        return (self.at is not None and time.monotonic() >= self.at) or (
            self.cpu_at is not None and time.thread_time() >= self.cpu_at
        )

    def check(self) -> None:
        """SearchTooSlow once the deadline has passed."""
        if self.passed():
            raise self.stopped()


@contextmanager
def sqlite_time_limit(driver: sqlite3.Connection, deadline: Deadline) -> Iterator[None]:
    """Statements of `driver` interrupted once the deadline passes, as SearchTooSlow."""
    if deadline.at is None and deadline.cpu_at is None:
        yield
        return
    driver.set_progress_handler(deadline.passed, STEPS_BETWEEN_CHECKS)
    try:
        yield
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error) and deadline.passed():
            raise deadline.stopped() from None
        raise
    finally:
        driver.set_progress_handler(None, 0)


@contextmanager
def postgres_time_limit(deadline: Deadline) -> Iterator[None]:
    """A statement stopped by the reader's statement_timeout (Readers.cursor) as SearchTooSlow."""
    try:
        yield
    except psycopg.errors.QueryCanceled as error:
        if deadline.seconds is not None and ("statement timeout" in str(error) or deadline.passed()):
            raise deadline.stopped() from None
        raise
