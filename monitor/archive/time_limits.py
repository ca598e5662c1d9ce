"""Searches with a time limit (the read side's: one query asking too much, `NOT k*` over a
million articles, must not hold a read thread or a PostgreSQL connection for minutes).

SQLite stops a statement when its progress handler says so, checked every few thousand steps of
its virtual machine; the rows a search verifies in Python are read between those steps, and
the time left is checked before each chunk. One step is not stopped: the one in which the
full-text index gathers a prefix's matches (about a second for `k*` at a million articles), by
which a search may end that much past its limit. PostgreSQL stops a statement at its
`statement_timeout`; a search runs several (chunks read newest first), so the time left is
checked between them, and the last may run its full timeout: at worst twice the limit.

A search's work, the measure of a processor-time limit, is its thread's processor time and, on
PostgreSQL, the time its statements took (TimedConnection): their work is done in the server's
processes. Time in all is no measure of it: beside a crowd, a search of 2 ms waited seconds
for the processor (and, in Python, for its turn with the interpreter).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.abc import RV, PQGen

from monitor.errors import SearchTooSlow

# SQLite virtual-machine steps between two looks at the clock: a few microseconds of its work,
# so that the look costs nothing measurable.
STEPS_BETWEEN_CHECKS = 2000
# s a search must have waited for the processor to be said stopped by a busy server: a limit of
# milliseconds (a test's) is no measure of it.
WAITED = 0.05


class Deadline:
    """The moment a search must end by (time.monotonic), or none; and, when `work_seconds` is
    given, the work the thread that made it may do before (work_seconds(): a search slowed by
    others sharing the processor does none while it waits). Made, and looked at, on the thread
    that searches."""

    def __init__(self, seconds: float | None, work_seconds: float | None = None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.work_began, self.statements_began = work_done(), statements_time()
        self.work_at = None if work_seconds is None else self.work_began + work_seconds

    def stopped(self) -> SearchTooSlow:
        """The SearchTooSlow of a search stopped at this deadline. When it worked for less than
        half of the time, the query was not what took long (a one-word search over a few
        thousand articles stopped on a crowded server): it says so. When its statements on
        PostgreSQL took most of it, the database's load, which is not seen from here, may be."""
        seconds = self.seconds or 0.0
        worked = work_done() - self.work_began
        if worked < seconds / 2 and seconds - worked >= WAITED:
            waited = (
                f"it worked for {worked:.1f} s of them (the server was busy, or waiting for "
                "the disk): try again shortly"
            )
            return SearchTooSlow(seconds, waited, waited=True)
        if statements_time() - self.statements_began >= seconds / 2:
            either = (
                "the database was busy, or the query asks too much: try again shortly, or "
                + SearchTooSlow.NARROW
            )
            return SearchTooSlow(seconds, either)
        return SearchTooSlow(seconds)

    def passed(self) -> bool:
        return (self.at is not None and time.monotonic() >= self.at) or (
            self.work_at is not None and work_done() >= self.work_at
        )

    def check(self) -> None:
        """SearchTooSlow once the deadline has passed."""
        if self.passed():
            raise self.stopped()


@contextmanager
def sqlite_time_limit(driver: sqlite3.Connection, deadline: Deadline) -> Iterator[None]:
    """Statements of `driver` interrupted once the deadline passes, as SearchTooSlow."""
    if deadline.at is None and deadline.work_at is None:
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


_statements = threading.local()  # .seconds: the time this thread's PostgreSQL statements took


def work_done() -> float:
    """The work this thread has done, in seconds: its processor time and statements_time()."""
    return time.thread_time() + statements_time()


def statements_time() -> float:
    """The time this thread's statements on PostgreSQL took (TimedConnection), in seconds, less
    the processor time they spent here."""
    return getattr(_statements, "seconds", 0.0)


class TimedConnection(psycopg.Connection[Any]):
    """A connection counting the time its exchanges with the server take toward its thread's
    work_done(): a statement's, from sending it to having read its results whole (a client-side
    cursor reads them in execute()); the server's work, the trips to it and back, and the
    thread's waits for its turn with the interpreter."""

    def wait(self, gen: PQGen[RV], *args: Any, **kwargs: Any) -> RV:
        began, began_here = time.monotonic(), time.thread_time()
        try:
            return super().wait(gen, *args, **kwargs)
        finally:
            elsewhere = time.monotonic() - began - (time.thread_time() - began_here)
            _statements.seconds = statements_time() + max(0.0, elsewhere)
