"""An archive that needs upgrading is left as it is while a daemon of the version before runs on
it: that daemon would go on writing as the older schema does (a review saw articles its older
index took in after the upgrade never found by search)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.archive.schema_revision import NEWEST_REVISION
from monitor.archive.sql import SqlArchive
from monitor.errors import ArchiveError, DaemonRunningError
from monitor.runtime.daemon_lock import lock_path, sole_daemon, upgrade_turn

# Another process holding the lock file as sole_daemon (or an upgrade) does, saying so, until
# its input closes.
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, sys.argv[2].encode(), 0)
print("held", flush=True)
sys.stdin.read()
"""


def _holding(database: Path, says: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path(database)), says],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _an_archive_a_revision_behind(path: Path) -> str:
    url = f"sqlite:///{path}"
    SqlArchive(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'r18_arabic_letters'"))
    engine.dispose()
    return url


def _revision(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return str(found)


def test_an_upgrade_waits_for_the_older_daemon_to_stop(tmp_path: Path) -> None:
    url = _an_archive_a_revision_behind(tmp_path / "archive.db")
    holder = _holding(tmp_path / "archive.db", "pid 4242 on old-host, since 2026-12-01\n")
    try:
        with pytest.raises(ArchiveError) as refused:
            SqlArchive(url)
        assert "needs upgrading to this version's schema while a monitor daemon runs on it" in str(
            refused.value
        )
        assert "pid 4242 on old-host" in str(refused.value) and "stop that daemon" in str(refused.value)
        assert _revision(url) == "r18_arabic_letters"  # left unchanged
    finally:
        holder.communicate("")
    SqlArchive(url).close()  # the daemon stopped: upgraded
    assert _revision(url) == NEWEST_REVISION


def test_no_daemon_starts_while_the_archive_is_upgraded(tmp_path: Path) -> None:
    """A review started a daemon of the version before during the upgrade: it ran on the
    upgraded archive, writing as the older schema does."""
    with (
        upgrade_turn(tmp_path / "archive.db"),
        pytest.raises(DaemonRunningError) as refused,
        sole_daemon(tmp_path / "archive.db"),
    ):
        pass
    assert "upgrading the archive: pid" in str(refused.value)


def test_another_upgrade_is_waited_for(tmp_path: Path) -> None:
    url = _an_archive_a_revision_behind(tmp_path / "archive.db")
    holder = _holding(tmp_path / "archive.db", "upgrading the archive: pid 1 on host\n")
    threading.Timer(0.5, holder.communicate, ("",)).start()
    started = time.monotonic()
    SqlArchive(url).close()
    assert time.monotonic() - started >= 0.4  # it waited for the other's turn, then upgraded
    assert _revision(url) == NEWEST_REVISION


def test_this_processs_own_daemon_upgrades_the_archive(tmp_path: Path) -> None:
    url = _an_archive_a_revision_behind(tmp_path / "archive.db")
    with sole_daemon(tmp_path / "archive.db"):
        SqlArchive(url).close()
    assert _revision(url) == NEWEST_REVISION
