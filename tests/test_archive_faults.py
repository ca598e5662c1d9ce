"""The daemon when the archive fails under it: a full disk and a damaged file are one clear line
each, nothing is lost, and polling resumes within one interval once the fault is gone."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from monitor.alerts.dispatch import AlertRoute, Dispatcher
from monitor.alerts.schedules import AlertMode
from monitor.alerts.webhook import WebhookNotifier
from monitor.archive import SearchFilters
from monitor.archive.connections import is_damage
from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.errors import ArchiveError
from monitor.metrics import Metrics
from monitor.rules import parse_query
from tests import fixtures
from tests.archive.helpers import make_article
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site, WebhookReceiver


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system of 8 MiB (tmpfs), to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def items(site: Site, first: int, count: int) -> list[dict[str, str]]:
    body = "The Iron Dome battery was inspected again. " * 400  # 17 KB an item
    return [
        {"title": f"Iron Dome report {n}", "link": site.url(f"/r/{n}"), "description": body + str(n)}
        for n in range(first, first + count)
    ]


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; the file returned gives them back when deleted."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: nothing left to flush at close
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_a_full_disk_is_one_clear_line_and_polling_resumes_when_space_returns(
    small_disk: Path, site: Site
) -> None:
    site.routes["/feed.xml"] = Route(fixtures.rss(items(site, 0, 2)))
    config = monitor_config(
        small_disk,
        storage="sqlite:///monitor.db",
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        sources=[{"name": "Wire", "url": site.url("/feed.xml"), "every": "2s", "full_text": "never"}],
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )

    def stored() -> int:
        try:
            with sqlite3.connect(f"file:{small_disk / 'monitor.db'}?mode=ro", uri=True) as connection:
                return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])
        except sqlite3.OperationalError:  # the daemon is still creating the archive
            return 0

    def wait_until_stored(count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (small_disk / "monitor.db").exists() and stored() >= count:
                return True
            time.sleep(0.2)
        return False

    try:
        assert wait_until_stored(2, 30)
        filler = fill(small_disk)
        site.routes["/feed.xml"] = Route(fixtures.rss(items(site, 0, 40)))  # 38 new, 650 KB
        time.sleep(6)  # three poll intervals on a full disk
        assert stored() == 2
        listed = subprocess.run(
            [sys.executable, "-m", "monitor", "-c", str(config), "sources", "--format", "json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        filler.unlink()  # space returns
        returned = time.monotonic()
        assert wait_until_stored(40, 30), "polling did not resume after space returned"
        resumed = time.monotonic() - returned
        time.sleep(4.5)  # two more passes (2s): the second began after space returned
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert resumed < 2 * 2 + 2, f"resumed {resumed:.1f}s after space returned (interval 2s)"
    assert listed.returncode == 0, listed.stderr  # reading works on a full disk
    assert [source["name"] for source in json.loads(listed.stdout)] == ["Wire"]
    assert "monitor: warning: the disk of the archive" in listed.stderr and "is full" in listed.stderr
    lines = output.splitlines()
    faults = [line for line in lines if "database or disk is full" in line and "pass:" not in line]
    assert faults and "cannot write the archive" in faults[0] and "nothing is lost" in faults[0], output
    assert len(faults) <= 3, output  # once a minute, not once a poll
    summaries = [line for line in lines if "pass:" in line]
    assert any("archive fault: " in line and "disk is full" in line for line in summaries), output
    assert "archive fault" not in summaries[-1], output  # the last pass, after space returned
    assert "Traceback" not in output, output


def _damaged_archive(path: Path) -> None:
    """An archive of 200 articles, pages in the middle of its file scribbled over."""
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article(f"a{n}", text="Iron Dome. " * 500) for n in range(200)], [])
    archive.close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    with path.open("r+b") as handle:
        for page in range(pages // 3, 2 * pages // 3, 7):
            handle.seek(4096 * page)
            handle.write(b"\xff" * 4096)


def test_a_damaged_archive_is_named_by_check_and_search_alike(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    _damaged_archive(path)
    config = monitor_config(
        tmp_path, storage="sqlite:///monitor.db", watch=[{"name": "Dome", "terms": ["Iron Dome"]}]
    )
    code, out, err = cli("-c", str(config), "check")
    assert code == 2 and "the archive is damaged" in err and "restore a backup" in err, (out, err)
    code, _, err = cli("-c", str(config), "search", "iron", "--limit", "500")
    assert code == 1 and "the file is damaged: `monitor check` tests it" in err, err
    assert "Traceback" not in err


def test_damage_a_read_found_is_said_by_the_health_check_and_the_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: /healthz's trivial read missed the damaged pages and said "ok" while
    every search, page and feed answered 503 "database disk image is malformed"."""
    path = tmp_path / "monitor.db"
    _damaged_archive(path)
    archive = SqlArchive(f"sqlite:///{path}")
    settings = load_settings(monitor_config(tmp_path, storage=f"sqlite:///{path}"))
    metrics = Metrics()
    metrics.watch_archive(archive, settings)
    try:
        archive.answers()  # the trivial read misses the damage
        with pytest.raises(ArchiveError, match=r"malformed|not a database|decode"):
            archive.search(parse_query("iron"), SearchFilters(limit=500))
        with pytest.raises(ArchiveError):  # again: said once in the log
            archive.search(parse_query("iron"), SearchFilters(limit=500))
        with pytest.raises(ArchiveError, match=r"monitor.db is damaged \(.+\): `monitor check` tests it"):
            archive.answers()
        assert (
            sum(
                "health checks now fail until it is restored" in record.getMessage()
                for record in caplog.records
            )
            == 1
        )
        scraped = generate_latest(metrics.registry).decode()
        assert "monitor_archive_up 0.0" in scraped, scraped
    finally:
        archive.close()


def test_a_query_syntax_error_of_the_full_text_index_is_not_damage() -> None:
    """Damage is latched until restart (SqlConnections.undamaged): only SQLite's codes for a
    damaged file say so, not "malformed" in an FTS query's error."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    for wrong in ("a AND", '"', "NEAR("):
        with pytest.raises(sqlite3.OperationalError) as raised:
            connection.execute("SELECT * FROM t WHERE t MATCH ?", (wrong,)).fetchall()
        assert not is_damage(raised.value), raised.value
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorcode = 11
    assert is_damage(corrupt)


def test_run_on_a_foreign_database_leaves_nothing_beside_it(cli: Cli, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.db"
    with sqlite3.connect(theirs) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    config = monitor_config(tmp_path, storage="sqlite:///theirs.db", watch=[], sources=[])
    code, _, err = cli("-c", str(config), "run")
    assert code != 0 and "not made by the monitor" in err and "Traceback" not in err, (code, err)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["monitor.yaml", "theirs.db"], err


def test_a_locked_archive_is_one_line_naming_the_operation(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock: the command says what it was doing, in one
    line, with no traceback."""
    config = monitor_config(tmp_path, storage="sqlite:///monitor.db")
    SqlArchive(f"sqlite:///{tmp_path / 'monitor.db'}").close()
    monkeypatch.setattr("monitor.archive.engine.BUSY_SECONDS", 0.2)
    holder = sqlite3.connect(tmp_path / "monitor.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, _, err = cli("-c", str(config), "alerts", "retry", "--failed")
    finally:
        holder.rollback()
        holder.close()
    assert (code, err) == (1, "monitor: retrying alerts: cannot write the archive: database is locked\n")


def test_an_archive_locked_even_for_readers_is_said_so_not_called_foreign(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = monitor_config(tmp_path, storage="sqlite:///monitor.db")
    SqlArchive(f"sqlite:///{tmp_path / 'monitor.db'}").close()
    monkeypatch.setattr("monitor.archive.engine.BUSY_SECONDS", 0.2)
    holder = sqlite3.connect(tmp_path / "monitor.db", isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")  # without WAL, readers wait for a writer too
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = cli("-c", str(config), "search", "dome")
    finally:
        holder.rollback()
        holder.close()
    assert code == 1 and err.count("\n") == 1, (code, err)
    assert "another process holds it locked" in err and "not a readable" not in err, err


def test_a_send_whose_outcome_cannot_be_recorded_is_one_line(
    small_disk: Path, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: the disk filling while an alert was out left its task with an
    ArchiveError ('marking alerts sent: ... disk is full') never retrieved: a traceback each."""
    archive = SqlArchive(f"sqlite:///{small_disk / 'monitor.db'}")
    route = AlertRoute(
        "desk", None, AlertMode.IMMEDIATE, (WebhookNotifier(webhook.url, timedelta(seconds=5), "t"),)
    )
    article = make_article("a1", text="Iron Dome report.")
    archive.store_new([article], Dispatcher(archive, [route]).outbox_for(article))
    webhook.delay = 1.0  # the disk fills while the receiver takes its time
    filled: list[Path] = []

    def fill_when_delivered() -> None:
        while webhook.arrivals == 0:
            time.sleep(0.01)
        filled.append(fill(small_disk))

    filler = threading.Thread(target=fill_when_delivered)
    filler.start()
    dispatcher = Dispatcher(archive, [route])
    try:
        with caplog.at_level(logging.ERROR):
            asyncio.run(dispatcher.dispatch())
            asyncio.run(dispatcher.close())
    finally:
        filler.join(10)
        for each in filled:
            each.unlink()
        archive.close()
    said = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert any(
        "desk to " in line and "its outcome not recorded now" in line and "full" in line for line in said
    ), said
    assert len(webhook.deliveries) == 1
