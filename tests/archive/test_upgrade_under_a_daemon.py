"""An archive that needs upgrading is left as it is while a daemon of the version before runs on
it: that daemon would go on writing as the older schema does (a review saw articles its older
index took in after the upgrade never found by search)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.archive.schema_revision import NEWEST_REVISION
from monitor.archive.sql import SqlArchive
from monitor.errors import ArchiveError
from monitor.runtime.daemon_lock import lock_path, sole_daemon

# A daemon of another process: holds the lock file as sole_daemon does, until its input closes.
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, b"pid 4242 on old-host, since 2026-12-01\\n", 0)
print("held", flush=True)
sys.stdin.read()
"""


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
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path(tmp_path / "archive.db"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
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


def test_this_processs_own_daemon_upgrades_the_archive(tmp_path: Path) -> None:
    url = _an_archive_a_revision_behind(tmp_path / "archive.db")
    with sole_daemon(tmp_path / "archive.db"):
        SqlArchive(url).close()
    assert _revision(url) == NEWEST_REVISION
