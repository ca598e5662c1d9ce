"""One daemon per SQLite archive: a lock file beside the database, held while the daemon runs.

Two daemons on one file both polled and both sent alerts. The lock is an flock on
`<database>.daemon`, which the kernel releases when its holder exits, however it exits: a dead
daemon never blocks the next one. The file names the holder, so the refusal can too. (Several
daemons may share a PostgreSQL archive; they coordinate through claims in the database.)
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import ArchiveError, DaemonRunningError

# The archives whose daemon lock this process holds (flock conflicts between two opens of the
# lock file in one process too, so this process's own lock is known here, not tried).
_held_here: set[Path] = set()


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".daemon")


UPGRADING = "upgrading the archive:"


@contextmanager
def upgrade_turn(database: Path) -> Iterator[None]:
    """Hold the archive's daemon lock while this process upgrades its schema, so that no daemon
    starts meanwhile (a daemon of the version before would go on writing as the older schema
    does, under the revisions that fixed what it wrote); another process upgrading it is
    waited for. ArchiveError, changing nothing, while a daemon holds it: this process's own
    is known, not tried."""
    if database in _held_here:
        yield
        return
    with _lock_file(database) as fd:
        holder = _locked_by(fd)
        if holder is not None:
            if not holder.startswith(UPGRADING):
                raise ArchiveError(
                    f"it needs upgrading to this version's schema while a monitor daemon runs on it "
                    f"({holder}), which would go on writing as the older version does: it is left "
                    "unchanged; stop that daemon and start this version's, which upgrades it"
                )
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process of this version upgrades it: wait
        _say(fd, f"{UPGRADING} pid {os.getpid()} on {socket.gethostname()}")
        yield


@contextmanager
def sole_daemon(database: Path) -> Iterator[None]:
    """Hold the archive's daemon lock for the block; raises DaemonRunningError if it is held."""
    with _lock_file(database) as fd:
        holder = _locked_by(fd)
        if holder is not None:
            raise DaemonRunningError(
                f"another monitor daemon is running on {database}: {holder}. One daemon per SQLite "
                "archive: stop it first"
            )
        since = datetime.now(UTC).isoformat(timespec="seconds")
        _say(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {since}")
        _held_here.add(database)
        try:
            yield
        finally:
            _held_here.discard(database)


@contextmanager
def _lock_file(database: Path) -> Iterator[int]:
    """The archive's lock file, open (made with its folder if need be); closing it releases
    the lock."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def _locked_by(fd: int) -> str | None:
    """Take the lock if it is free (None); else who holds it, as the holder wrote."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "a process"
    return None


def _say(fd: int, holder: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)
