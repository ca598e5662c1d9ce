"""The archive's connections: the SQLite engine (engine.py), brought to the newest schema, and
the transactions its reads and writes run in."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import wraps
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.archive.engine import database_path, driver_connection, sqlite_engine
from monitor.archive.migrations import is_current, migrate, refuse_foreign
from monitor.archive.urls import storage_url_problem
from monitor.errors import ArchiveError, ArchiveGone
from monitor.runtime.daemon_lock import upgrade_turn

log = logging.getLogger(__name__)


class Transactions(Protocol):
    """What the archive's SQL components need of a database: its engine (for the dialect) and
    its read and write transactions (SqlConnections for SQLite, PostgresConnections)."""

    engine: Engine

    def writing(self) -> AbstractContextManager[Connection]: ...

    def reading(self) -> AbstractContextManager[Connection]: ...

    def close(self) -> None: ...


class SqlConnections:
    """One archive database: its engine, brought to the newest schema, and the transactions
    reads and writes run in (writes of this process one at a time)."""

    def __init__(self, url: str) -> None:
        # Writers of this process queue here, woken the moment the lock is free; SQLite's busy
        # handler (for writers in other processes) polls with sleeps of up to 100 ms instead.
        self.write_lock = threading.Lock()
        # Idle connections of read_cursor; list.pop and append are atomic, so threads share it.
        self._read_connections: list[sqlite3.Connection] = []
        self._store_connection: sqlite3.Connection | None = None  # used under the write lock
        # What SQLite said when a read or write found the file damaged: a damaged page stays so
        # until the file is restored, while reads that miss it go on answering.
        self.damage: str | None = None
        problem = storage_url_problem(url)
        if problem is None and not url.startswith("sqlite:"):
            problem = f"not an SQLite URL: {url!r}"
        if problem:
            raise ArchiveError(problem)
        refuse_unless_ours(url)
        self.given = Path(url.removeprefix("sqlite:///"))  # as written: through any symlinks
        self.path = database_path(url)
        try:
            self.engine = sqlite_engine(url)
        except (OSError, sqlite3.Error) as error:  # its folder or file cannot be made
            raise ArchiveError(f"cannot open the archive at {url}: {error}") from None
        try:
            with self.engine.connect().execution_options(reading=True) as connection, connection.begin():
                current = is_current(connection)
            if not current:
                with upgrade_turn(self.path), self.engine.begin() as connection:
                    migrate(connection)
        except (SQLAlchemyError, ArchiveError) as error:
            self.engine.dispose()
            raise ArchiveError(f"cannot open the archive at {url}: {error}") from error
        self._file = _identity(self.given)

    def still_open(self) -> None:
        """ArchiveGone once the archive's file was deleted, moved away or replaced: this
        process's connections still hold the file it opened, where no one will read what they
        write."""
        if _identity(self.given) != self._file:
            raise ArchiveGone(
                f"the archive's file {self.path} was deleted, moved or replaced since the monitor "
                "opened it (or a link on its path now leads elsewhere): start it again to open the "
                "file there now"
            )

    def close(self) -> None:
        self.engine.dispose()
        while self._read_connections:
            self._read_connections.pop().close()
        with self.write_lock:
            if self._store_connection is not None:
                self._store_connection.close()
                self._store_connection = None

    def undamaged(self) -> None:
        """ArchiveError once a read or write of this process found the file damaged."""
        if self.damage is not None:
            raise ArchiveError(
                f"the archive's file {self.path} is damaged ({self.damage}): `monitor check` "
                "tests it; stop the monitor and restore a backup"
            )

    @contextmanager
    def _errors(self, verb: str) -> Iterator[None]:
        """archive_errors, noting damage the driver reports (undamaged)."""
        try:
            with archive_errors(verb):
                yield
        except ArchiveError as error:
            cause = error.__cause__
            if isinstance(cause, Exception) and is_damage(cause):
                if self.damage is None:
                    log.error(
                        "%s: health checks now fail until it is restored and the monitor restarted", error
                    )
                self.damage = str(getattr(cause, "orig", None) or cause).splitlines()[0]
            raise

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.write_lock, self._errors("write"), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def storing(self) -> Iterator[sqlite3.Cursor]:
        """A driver cursor in a write transaction, for the stores of articles (writes.py). The
        pipeline stores a poll's articles as it ends, and through SQLAlchemy each statement
        spends more in Python than SQLite spends running it, all of it holding the GIL inside
        the write lock. Other writes keep `writing`."""
        with self.write_lock, self._errors("write"):
            if self._store_connection is None:
                self._store_connection = driver_connection(self.path)
            driver = self._store_connection
            driver.execute("BEGIN IMMEDIATE")
            try:
                yield driver.cursor()
                driver.commit()
            except BaseException:
                try:
                    driver.rollback()  # a failed COMMIT too leaves the transaction open
                except sqlite3.Error:
                    driver.close()  # the next store opens a new connection
                    self._store_connection = None
                raise

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with (
            self._errors("read"),
            self.engine.connect().execution_options(reading=True) as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def read_cursor(self) -> Iterator[sqlite3.Cursor]:
        """A driver cursor in a read transaction of its own, for the hot reads: search (search_sql
        says why) and a poll's look-up of its entries. The connections are kept apart from the
        engine's pool: a checkout there (events, reset on return) is a sizeable share of the
        search for a rare phrase."""
        try:
            driver = self._read_connections.pop()
        except IndexError:
            driver = None
        try:
            with self._errors("read"):
                driver = driver or driver_connection(self.path)
                driver.execute("BEGIN")
        except ArchiveError:
            if driver is not None:
                driver.close()
            raise
        try:
            with self._errors("read"):
                yield driver.cursor()
        finally:
            try:
                driver.execute("ROLLBACK")  # it wrote nothing
            except sqlite3.Error:
                driver.close()
            else:
                self._read_connections.append(driver)


def _identity(path: Path) -> tuple[str, int, int] | None:
    """Which file the path leads to: its real path (SQLite names the -wal beside it, so a link
    pointed elsewhere, even at the same file under another name, splits the log), device and
    inode; None when there is none."""
    try:
        found = path.stat()
        return str(path.resolve(strict=True)), found.st_dev, found.st_ino
    except OSError:
        return None


def refuse_unless_ours(url: str) -> None:
    """Raise ArchiveError, touching nothing, when the URL names a file the monitor did not make."""
    try:
        refuse_foreign(Path(url.removeprefix("sqlite:///")))
    except ArchiveError as error:
        raise ArchiveError(f"cannot open the archive at {url}: {error}") from None


# What the database layers raise: SQLAlchemy's, and the drivers' own on their cursors.
DRIVER_ERRORS = (sqlite3.Error, psycopg.Error, SQLAlchemyError)


@contextmanager
def archive_errors(verb: str) -> Iterator[None]:
    """The driver's errors as ArchiveError, in words an operator can act on."""
    try:
        yield
    except DRIVER_ERRORS as error:
        raise ArchiveError(f"cannot {verb} the archive: {explained(error)}") from error


P = ParamSpec("P")
R = TypeVar("R")


def operation(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A port method whose every failure is an ArchiveError naming what was being done
    ("retrying alerts: cannot write the archive: database is locked"), whether it came from a
    transaction helper or straight from the driver."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except ArchiveError as error:
                raise ArchiveError(f"{name}: {error}") from error
            except DRIVER_ERRORS as error:
                raise ArchiveError(f"{name}: cannot use the archive: {explained(error)}") from error

        return run

    return decorate


# SQLITE_CORRUPT (with its extended codes) and SQLITE_NOTADB; by code, as "malformed" is in
# an FTS query's syntax errors too. Python's own "Could not decode to UTF-8" reads a text whose
# bytes were overwritten (the monitor writes none that is not UTF-8).
_DAMAGE_CODES = (11, 26)


def explained(error: Exception) -> str:
    driver_error = getattr(error, "orig", None) or error
    cause = str(driver_error).splitlines()[0]
    cause = cause if len(cause) <= 160 else cause[:159] + "…"
    if "disk is full" in cause:
        return f"{cause} (nothing is lost: the work is retried once there is space)"
    if is_damage(error):
        return f"{cause} (the file is damaged: `monitor check` tests it; restore a backup)"
    return cause


def is_damage(error: Exception) -> bool:
    """Whether SQLite's error says the file is damaged."""
    driver_error = getattr(error, "orig", None) or error
    if not isinstance(driver_error, sqlite3.Error):
        return False
    code = getattr(driver_error, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF in _DAMAGE_CODES) or "Could not decode" in str(driver_error)
