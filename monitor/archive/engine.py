"""The SQLite engine: WAL, foreign keys, a busy timeout, and transactions we begin ourselves.

Durability: WAL with synchronous=NORMAL keeps every committed transaction through a crash of
the process; a power loss may roll back the newest commits (set `synchronous=FULL` to trade
write speed for that). Writes take the write lock up front (BEGIN IMMEDIATE) so two writers
never deadlock on a lock upgrade; reads (execution option `reading`) use a deferred BEGIN.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event

from monitor.errors import ArchiveGone

# How long a writer waits for another process's write lock before the operation fails.
BUSY_SECONDS = 30.0


def configure(driver: sqlite3.Connection) -> None:
    driver.isolation_level = None  # we issue BEGIN ourselves
    for pragma in ("synchronous = NORMAL", "foreign_keys = ON", f"busy_timeout = {int(BUSY_SECONDS * 1000)}"):
        driver.execute(f"PRAGMA {pragma}")
    _use_wal(driver)


def _use_wal(driver: sqlite3.Connection) -> None:
    """Switch the file to WAL, which it keeps: done once, by the first connection to a new
    archive. The switch needs the file to itself, and SQLite's busy handler does not wait for
    it: processes opening a new archive at once would fail now and then ("database is locked"),
    so the switch is retried as the busy handler would."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            [mode] = driver.execute("PRAGMA journal_mode").fetchone()
            if mode.lower() != "wal":
                driver.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.001, 0.02))


def driver_connection(path: Path) -> sqlite3.Connection:
    """A connection of the sqlite3 driver to the archive's file, set up as the engine's are.
    Never one that creates the file (sqlite_engine did, once): a file deleted under a running
    monitor must fail to open, not come back empty."""
    try:
        driver = sqlite3.connect(
            f"{path.as_uri()}?mode=rw", uri=True, check_same_thread=False, timeout=BUSY_SECONDS
        )
    except sqlite3.OperationalError:
        if path.exists():
            raise
        raise ArchiveGone(
            f"the archive's file {path} is gone: deleted or moved since the monitor opened it"
        ) from None
    configure(driver)
    return driver


def database_path(url: str) -> Path:
    """The absolute path of a sqlite:/// URL's file."""
    return Path(url.removeprefix("sqlite:///")).resolve()


def sqlite_engine(url: str) -> Engine:
    path = database_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        sqlite3.connect(path).close()  # an empty database, which the connections then open
    engine = create_engine(url, creator=lambda: driver_connection(path))

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get("reading", False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine
