"""Searches with a time limit (the read side's: one query asking too much, `NOT k*` over a
million articles, must not hold a read thread or a PostgreSQL connection for minutes).

SQLite stops a statement when its progress handler says so, checked every few thousand steps of
its virtual machine; the rows a search verifies in Python are read between those steps, and
the time left is checked before each chunk. One step is not stopped: the one in which the
full-text index gathers a prefix's matches (about a second for `k*` at a million articles), by
which a search may end that much past its limit. PostgreSQL stops a statement at its
`statement_timeout`; a search runs several (chunks read newest first), so the time left is
checked between them, and the last may run its full timeout: at worst twice the limit.

A search's work, the measure of a work limit, is its thread's processor time and, on PostgreSQL,
whose work is done in the server's processes, the time its statements took (TimedConnection).
Time in all is no measure of it: beside a crowd, a search of 2 ms waited seconds for the
processor and for its turn with the interpreter. A statement's time is from when it was sent
to when its answer's last byte arrived, as the kernel tells (TCP_INFO), not the thread's waits
for the interpreter around them: counted, they made a search of 1 ms beside 8 busy threads do
0.1-0.45 s of work, and judged it heavy. (Over a Unix socket, or where the kernel does not
tell, they are counted.)
A server busy with others still stretches its statements' time: beside 40 clients' searches
of 10 MB answers a search of 1.5 ms took 90-120 ms there.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.abc import RV, PQGen

from monitor.errors import SearchTooSlow

log = logging.getLogger(__name__)

# SQLite virtual-machine steps between two looks at the clock: a few microseconds of its work,
# so that the look costs nothing measurable.
STEPS_BETWEEN_CHECKS = 2000
# s a search must have waited for the processor to be said stopped by a busy server: a limit of
# milliseconds (a test's) is no measure of it.
WAITED = 0.05


class Deadline:
    """The moment a search must end by (time.monotonic), or none; and, when `work_seconds` is
    given, the work the thread that made it may do before (work_done(): a search slowed by
    others sharing the processor does none while it waits). Made, and looked at, on the thread
    that searches."""

    def __init__(self, seconds: float | None, work_seconds: float | None = None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.processor_began, self.statements_began = time.thread_time(), statements_time()
        work_began = self.processor_began + self.statements_began  # work_done() then
        self.work_at = None if work_seconds is None else work_began + work_seconds

    def stopped(self) -> SearchTooSlow:
        """The SearchTooSlow of a search stopped at this deadline. When its statements on
        PostgreSQL took most of the time, the database's load, which is not seen from here, may
        be the cause as well as the query: it says both. When it had the processor, and its
        statements, for less than half of the time, the query was not what took long (a
        one-word search over a few thousand articles stopped on a crowded server): it says so."""
        seconds = self.seconds or 0.0
        statements = statements_time() - self.statements_began
        busy = time.thread_time() - self.processor_began + statements
        if statements >= seconds / 2:
            either = (
                "the database was busy, or the query asks too much: try again shortly, or "
                + SearchTooSlow.NARROW
            )
            return SearchTooSlow(seconds, either)
        if busy < seconds / 2 and seconds - busy >= WAITED:
            waited = (
                f"it had the processor for {busy:.1f} s of them (the server was busy, or waiting "
                "for the disk): try again shortly"
            )
            return SearchTooSlow(seconds, waited, waited=True)
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
    work_done(): a statement's, from sending it until its results' last byte arrived (a
    client-side cursor reads them whole in execute())."""

    def wait(self, gen: PQGen[RV], *args: Any, **kwargs: Any) -> RV:
        began, began_here = time.monotonic(), time.thread_time()
        try:
            return super().wait(gen, *args, **kwargs)
        finally:
            took = time.monotonic() - began
            if took > KERNEL_ASKED_AFTER:
                took = _time_answering(self, began, took)
            # The processor time spent here meanwhile (reading a long answer) is counted apart.
            elsewhere = took - (time.thread_time() - began_here)
            _statements.seconds = statements_time() + max(0.0, elsewhere)


# s a statement must take for the kernel to be asked when it was sent and answered (a few
# microseconds): within less, the waits for the interpreter are as short.
KERNEL_ASKED_AFTER = 0.002
# struct tcp_info (linux/tcp.h): eight one-byte fields, then 32-bit ones, of which the tenth and
# the twelfth are the milliseconds since data was last sent, and last received.
_LAST_DATA_SENT_AT, _LAST_DATA_RECEIVED_AT = 8 + 9 * 4, 8 + 11 * 4


def _time_answering(connection: psycopg.Connection[Any], began: float, took: float) -> float:
    """The seconds from the last bytes sent on the connection's TCP socket to the last received,
    as the kernel tells, at most those since `began` (time.monotonic), when the exchange that
    `took` that long began: not the thread's waits for the interpreter before it sent the
    statement, nor after its answer arrived. `took` where the kernel does not tell (a Unix
    socket, another system, a connection closed)."""
    try:
        with socket.socket(fileno=os.dup(connection.pgconn.socket)) as duplicate:
            if duplicate.family == socket.AF_UNIX:
                _say_waits_are_counted()
                return took
            info = duplicate.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _LAST_DATA_RECEIVED_AT + 4)
    except (OSError, AttributeError, psycopg.Error):
        return took
    since = time.monotonic() - began  # read after the kernel's answer: never less than its times
    if len(info) < _LAST_DATA_RECEIVED_AT + 4:
        return took

    def milliseconds_at(offset: int) -> float:
        return int.from_bytes(info[offset : offset + 4], sys.byteorder) / 1000

    # Both from one reading of the kernel's: a thread losing the interpreter meanwhile moves
    # neither (taken against a clock read before, such a pause was cut off the statement).
    return min(milliseconds_at(_LAST_DATA_SENT_AT), since) - milliseconds_at(_LAST_DATA_RECEIVED_AT)


@functools.cache
def _say_waits_are_counted() -> None:
    """Once a process: the operator may connect otherwise."""
    log.warning(
        "the archive's PostgreSQL connections are over a Unix socket, whose kernel does not tell when "
        "a statement's answer arrived: the time a search waits for the interpreter around its "
        "statements counts as its work, and beside a busy server quick searches may be judged "
        "heavy and wait for a turn; connect over TCP (host=127.0.0.1 in the archive's URL) to "
        "have them judged by the server's time alone"
    )
