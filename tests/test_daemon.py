"""`monitor run` as a real process: polls on its interval, alerts, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.app import CLAIM_LEASE, build_app
from monitor.archive import FetchOutcome, OutboxRow
from monitor.config.loading import load_settings
from monitor.models import PollResult, PollStatus
from monitor.runtime import scheduler
from monitor.runtime.scheduler import Daemon, new_scheduler
from tests import fixtures
from tests.archive.helpers import make_article
from tests.configs import monitor_config
from tests.servers import Route, Site, WebhookReceiver


def start_daemon(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_alerts_new_items_and_stops_cleanly(
    tmp_path: Path, site: Site, webhook: WebhookReceiver, signum: signal.Signals
) -> None:
    item = {
        "title": "Iron Dome battery visited",
        "link": site.url("/d/1"),
        "description": "A delegation saw the Iron Dome." + fixtures.filler("live-1"),
    }
    site.routes["/live.xml"] = Route(fixtures.rss([item]))
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        sources=[{"name": "Live", "url": site.url("/live.xml"), "every": "1s"}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    daemon = start_daemon(config)
    try:
        assert len(webhook.wait_for(1, timeout=30)) == 1
        newer = {
            "title": "Second Iron Dome story",
            "link": site.url("/d/2"),
            "description": "Engineers inspected another Iron Dome site." + fixtures.filler("live-2"),
        }
        site.routes["/live.xml"] = Route(fixtures.rss([newer, item]))
        changed = time.monotonic()
        deliveries = webhook.wait_for(2, timeout=30)
        assert len(deliveries) == 2
        latency = time.monotonic() - changed
        assert latency < 8, f"alerted {latency:.1f}s after the change"  # interval 1s + ticks
        assert deliveries[1].payload["article"]["title"] == "Second Iron Dome story"
        assert site.hits("/live.xml") >= 2
    finally:
        daemon.send_signal(signum)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert "stopped" in output
    assert len(webhook.deliveries) == 2
    # Changes at INFO, routine polls (the unchanged feed, every second) at DEBUG; a pass a second.
    assert "Live: ok, 1 entry, 1 new, 0 updated, 1 matched" in output
    assert ", 0 new, " not in output, output
    summary = (
        r"pass: (\d+) polls? \((\d+) ok, 0 failed\), (\d+) new articles?, (\d+) matched, (\d+) alerts? sent"
    )
    passes = [[int(count) for count in found] for found in re.findall(summary, output)]
    polls, ok, new, matched, sent = (sum(column) for column in zip(*passes, strict=True))
    assert polls == ok >= 2 and (new, matched, sent) == (2, 2, 2), output  # the last pass too


def test_a_tick_that_finds_its_job_still_running_is_skipped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        scheduler = new_scheduler()

        async def slow() -> None:
            await asyncio.sleep(0.6)

        scheduler.add_job(slow, "interval", seconds=0.05, max_instances=1, coalesce=True)
        scheduler.start()
        await asyncio.sleep(0.5)
        scheduler.shutdown(wait=False)

    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        asyncio.run(scenario())
    assert not [record for record in caplog.records if "running instances" in record.getMessage()]


def test_an_article_built_to_stall_the_matcher_holds_back_no_other_source(
    tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    hostile = {
        "title": "Systems review",
        "link": site.url("/h/1"),
        "description": "iron dome system " * 11_000,  # 187 KB, a repeated NEAR chain's terms
    }
    site.routes["/hostile.xml"] = Route(fixtures.rss([hostile]))
    site.routes["/live.xml"] = Route(fixtures.rss([]))
    chain = " NEAR/1000 ".join(["iron", "dome", "system"] * 2)
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        watch=[{"name": "chain", "query": chain}, {"name": "shield", "terms": ["Taiwan Shield"]}],
        fetch={"host_gap": "0s"},
        sources=[
            {"name": "Hostile", "url": site.url("/hostile.xml"), "every": "1s", "full_text": "never"},
            {"name": "Live", "url": site.url("/live.xml"), "every": "1s", "full_text": "never"},
        ],
        alerts=[{"name": "desk", "rules": ["shield"], "notify": [{"webhook": webhook.url}]}],
    )
    daemon = start_daemon(config)
    try:
        deadline = time.monotonic() + 30
        while site.hits("/hostile.xml") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        site.routes["/live.xml"] = Route(
            fixtures.rss([{"title": "Taiwan Shield drill", "link": site.url("/l/1"), "description": "x"}])
        )
        changed = time.monotonic()
        assert len(webhook.wait_for(1, timeout=30)) == 1
        latency = time.monotonic() - changed
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        output, _ = daemon.communicate(timeout=60)
        stopped_in = time.monotonic() - stopping
    assert daemon.returncode == 0, output
    assert "Hostile: ok, 1 entry, 1 new, 0 updated, 1 matched" in output, output
    assert latency < 8, f"the live source's alert came {latency:.1f}s after its change"
    assert stopped_in < 10, f"SIGTERM took {stopped_in:.1f}s"


def test_a_job_cancelled_at_shutdown_is_no_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = monitor_config(tmp_path, storage="sqlite:///m.db", watch=[], sources=[])
    app = build_app(load_settings(config))

    async def scenario() -> None:
        async def slow() -> None:
            await asyncio.sleep(30)

        task: asyncio.Future[None] = asyncio.ensure_future(Daemon(app)._tracked(slow)())
        await asyncio.sleep(0.1)
        task.cancel()
        await task  # ends quietly: a cancelled job is not a failed one

    with caplog.at_level(logging.DEBUG, logger="monitor"):
        asyncio.run(scenario())
    app.archive.close()
    assert "job slow cancelled at shutdown" in caplog.text and "ERROR" not in caplog.text


def test_a_daemon_stopping_during_a_long_dispatch_stops_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dispatch that outlasts the shutdown grace (thousands of alerts being claimed) is left:
    the daemon stops with a warning, not a traceback and exit code 1."""
    desk = [{"name": "desk", "notify": [{"webhook": "http://127.0.0.1:9/hook"}]}]
    config = monitor_config(tmp_path, storage="sqlite:///m.db", sources=[], alerts=desk)
    app = build_app(load_settings(config))
    monkeypatch.setattr(scheduler, "SHUTDOWN_GRACE", 0.2)
    daemon = Daemon(app)

    async def scenario() -> None:
        async def endless_dispatch(wait: bool = True) -> None:
            await asyncio.sleep(30)

        monkeypatch.setattr(app.dispatcher, "dispatch", endless_dispatch)
        running = asyncio.ensure_future(daemon.run())
        await asyncio.sleep(0.3)
        daemon.stopping.set()
        await asyncio.wait_for(running, timeout=10)

    with caplog.at_level(logging.INFO, logger="monitor"):
        asyncio.run(scenario())
    app.archive.close()
    assert "alerts still being claimed after 0 s are left pending" in caplog.text
    assert "stopped" in caplog.text


def test_the_stop_has_one_grace_and_names_the_polls_it_cut_short(
    tmp_path: Path, site: Site, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One grace for the jobs in flight, the last dispatch and the sends together (each had its
    own: up to 3 minutes against docker-compose's 90 s). What the stop cuts short is named
    (found by a review: a poll of a feed trickling for minutes left only "alerts still being
    claimed after 60 s", and the pass line counted the poll as ok)."""
    site.routes["/slow.xml"] = Route(fixtures.rss([]), delay=30)
    sources = [{"name": "Trickle", "url": site.url("/slow.xml")}]
    config = monitor_config(tmp_path, storage="sqlite:///m.db", sources=sources, fetch={"timeout": "2m"})
    app = build_app(load_settings(config))
    monkeypatch.setattr(scheduler, "SHUTDOWN_GRACE", 0.5)
    daemon = Daemon(app)

    async def scenario() -> float:
        running = asyncio.ensure_future(daemon.run())
        while "Trickle" not in daemon.polling:  # noqa: ASYNC110 (the daemon's own task adds it)
            await asyncio.sleep(0.02)
        began = time.monotonic()
        daemon.stopping.set()
        await asyncio.wait_for(running, timeout=10)
        return time.monotonic() - began

    with caplog.at_level(logging.INFO, logger="monitor"):
        stopped_in = asyncio.run(scenario())
    app.archive.close()
    assert 0.5 <= stopped_in < 0.9, f"{stopped_in:.2f} s"
    # The poll, and whichever other job was running then (a claim round, a renewal).
    assert re.search(r"stopping: finishing \d+ jobs? and 0 alert sends in flight", caplog.text)
    cut_short = (
        r"\d+ jobs? still running after 0 s cut short \(polling Trickle: polled again at the next start\)"
    )
    assert re.search(cut_short, caplog.text), caplog.text
    assert "alerts due" not in caplog.text and "being claimed" not in caplog.text  # none configured
    assert "pass: 1 poll (0 ok, 0 failed, 1 cut short by the stop)" in caplog.text
    assert "Traceback" not in caplog.text and "ERROR" not in caplog.text


def test_a_poll_running_across_a_summary_is_counted_once_where_it_ends(
    tmp_path: Path, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: a poll was counted when it began and its failure when it ended, so a
    slow feed failing after a summary read "1 poll (1 ok, 0 failed)", then "0 polls (-1 ok, 1
    failed)"."""
    site.routes["/slow.xml"] = Route(fixtures.rss([]), delay=30)
    sources = [{"name": "Trickle", "url": site.url("/slow.xml")}]
    config = monitor_config(tmp_path, storage="sqlite:///m.db", sources=sources, fetch={"timeout": "1s"})
    app = build_app(load_settings(config))
    daemon = Daemon(app)

    async def scenario() -> None:
        running = asyncio.ensure_future(daemon.run())
        while "Trickle" not in daemon.polling:  # noqa: ASYNC110 (the daemon's own task adds it)
            await asyncio.sleep(0.02)
        await daemon.summarize()  # while it runs
        while "Trickle" in daemon.polling:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await daemon.summarize()  # once it failed
        daemon.stopping.set()
        await asyncio.wait_for(running, timeout=10)

    with caplog.at_level(logging.INFO, logger="monitor"):
        asyncio.run(scenario())
    app.archive.close()
    passes = re.findall(r"pass: \d+ polls? \((-?\d+) ok, (\d+) failed", caplog.text)
    assert passes[:2] == [("0", "0"), ("0", "1")], caplog.text
    assert "pass: 1 poll (0 ok, 1 failed)" in caplog.text


def test_a_running_polls_lease_is_renewed_until_it_ends(tmp_path: Path, site: Site) -> None:
    """A poll longer than the claim's lease keeps its source: no other poller (another daemon,
    or this one's next tick) takes it while it runs; once recorded, nothing is renewed."""
    site.routes["/slow.xml"] = Route(fixtures.rss([]), delay=1.5)
    sources = [{"name": "Slow", "url": site.url("/slow.xml")}]
    config = monitor_config(tmp_path, storage="sqlite:///m.db", sources=sources)
    now = [datetime.now(UTC)]
    app = build_app(load_settings(config), clock=lambda: now[0])
    daemon = Daemon(app)

    async def scenario() -> tuple[datetime | None, str | None]:
        await daemon.poll_due()
        await asyncio.sleep(0.5)  # the poll is waiting for the slow feed
        now[0] += CLAIM_LEASE * 3  # far past the first lease
        await daemon.renew_claims()
        renewed = app.archive.source_states_of(["Slow"])["Slow"].next_due
        claimed_again = await app.claim_due()
        await asyncio.gather(*daemon.in_flight)
        await daemon.renew_claims()
        return renewed, claimed_again[1][0][0].name if claimed_again[1] else None

    renewed, claimed_again = asyncio.run(scenario())
    app.archive.close()
    assert renewed == now[0] + CLAIM_LEASE  # a lease from the renewal's time
    assert claimed_again is None
    assert daemon.claims == {} and site.hits("/slow.xml") == 1


def _once_in_the_foreground(config: Path) -> subprocess.Popen[str]:
    """`monitor once` with SIGINT as a terminal's foreground job has it (a shell's background
    job, as a test's child would be, ignores it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_once_stops_at_a_signal_and_says_so(
    tmp_path: Path, site: Site, sent: signal.Signals, code: int
) -> None:
    """A review's SIGTERM killed `monitor once` without a word (exit -15); Ctrl-C ended it with
    none. Both now stop the pass at once and say so (a source that hangs holds nothing up)."""
    site.routes["/hang.xml"] = Route(fixtures.rss([]), delay=60)
    config = monitor_config(tmp_path, sources=[{"name": "Hang", "url": site.url("/hang.xml")}], watch=[])
    started = time.monotonic()
    once = _once_in_the_foreground(config)
    while not site.hits("/hang.xml") and time.monotonic() - started < 30:
        time.sleep(0.05)
    once.send_signal(sent)
    out, err = once.communicate(timeout=20)
    assert once.returncode == code and out == "", (out, err)
    assert f"once: stopped by {sent.name} after" in err and "before the pass ended" in err
    assert time.monotonic() - started < 20


def test_a_long_first_poll_is_shown_as_running_not_as_never_fetched(tmp_path: Path, site: Site) -> None:
    """A review's first poll of a 2,000-item feed, each page read in turn, ran 35 minutes while
    `monitor sources` and the API said `never fetched`."""
    site.routes["/slow.xml"] = Route(fixtures.rss([]), delay=8)
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        watch=[],
        sources=[{"name": "Slow", "url": site.url("/slow.xml")}],
    )
    daemon = start_daemon(config)
    try:
        started = time.monotonic()
        while not site.hits("/slow.xml") and time.monotonic() - started < 30:
            time.sleep(0.05)
        listed = subprocess.run(
            [sys.executable, "-m", "monitor", "-c", str(config), "sources", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        [health] = json.loads(listed.stdout)
        assert health["status"].startswith("first poll running since 20"), health
        assert health["polling_since"] and health["last_fetch"] is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)


def test_once_stopped_mid_send_blames_no_receiver(
    tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """A review's Ctrl-C during once's sends recorded each as a failed attempt (ReadError: the
    channel closed under it) and paused the channel; they are cut short and record nothing."""
    items = [
        {
            "title": f"Iron Dome report {n}",
            "link": site.url(f"/d/{n}"),
            "description": "Iron Dome." + fixtures.filler(f"s{n}"),
        }
        for n in range(3)
    ]
    site.routes["/feed.xml"] = Route(fixtures.rss(items))
    webhook.delay = 6
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        defaults={"full_text": "never"},
        sources=[{"name": "Desk", "url": site.url("/feed.xml")}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    once = _once_in_the_foreground(config)
    started = time.monotonic()
    while webhook.arrivals < 3 and time.monotonic() - started < 30:
        time.sleep(0.05)
    once.send_signal(signal.SIGINT)
    _, err = once.communicate(timeout=30)
    assert once.returncode == 130 and "stopped by SIGINT" in err, err
    assert "failed (attempt" not in err and "paused" not in err, err
    with sqlite3.connect(tmp_path / "monitor.db") as connection:
        rows = connection.execute("SELECT state, attempts, last_error FROM alerts").fetchall()
    assert rows and all(row == ("pending", 0, None) for row in rows), rows


def test_a_source_whose_interval_was_shortened_is_due_by_it_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: `every: 10m` changed to 30s, the daemon restarted waited out the ten
    minutes the last poll had scheduled, logging passes of 0 polls every 30 s."""
    source = {"name": "Wire", "url": "http://127.0.0.1:9/feed.xml"}
    first = build_app(
        load_settings(
            monitor_config(tmp_path, storage="sqlite:///m.db", sources=[{**source, "every": "10m"}])
        )
    )
    now = datetime.now(UTC)
    first.archive.record_fetch(
        "Wire", FetchOutcome(now, now + timedelta(minutes=10), PollStatus(PollResult.OK, "200"))
    )
    first.archive.close()
    shortened = monitor_config(tmp_path, storage="sqlite:///m.db", sources=[{**source, "every": "30s"}])
    with caplog.at_level(logging.INFO, logger="monitor"):
        again = build_app(load_settings(shortened))
    try:
        due = again.archive.source_states_of(["Wire"])["Wire"].next_due
        assert due is not None and due <= now + timedelta(seconds=33)
        assert "1 source due sooner: the config shortened their interval" in caplog.text
    finally:
        again.archive.close()


def test_an_archive_fault_every_job_meets_is_one_line_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: with the archive out of reach, claiming due sources and claiming
    alerts failed each tick, and, told apart by their operation, took turns logging: an ERROR
    line a second. One cause is one line a minute, whatever meets it; another cause is said."""
    config = monitor_config(tmp_path, storage="sqlite:///m.db", watch=[], sources=[])
    monkeypatch.setattr("monitor.archive.engine.BUSY_SECONDS", 0.05)
    app = build_app(load_settings(config))
    daemon = Daemon(app)
    now = datetime.now(UTC)
    # A source due and an alert pending: both claims have rows to write.
    app.archive.sync_sources([("Wire", "http://127.0.0.1:9/feed.xml")], now - timedelta(minutes=1))
    article = make_article("dome")
    app.archive.store_new([article], [OutboxRow("desk", "webhook:x", article.story, article.id, ("Dome",))])

    async def claim_sources() -> None:
        await asyncio.to_thread(app.archive.claim_due_sources, now, now + CLAIM_LEASE, 10, ["Wire"])

    async def claim_alerts() -> None:
        await asyncio.to_thread(app.archive.outbox.claim_alerts, now, now + CLAIM_LEASE, 10, ["desk"])

    async def ticks(count: int) -> None:
        for _ in range(count):
            await daemon._tracked(claim_sources)()
            await daemon._tracked(claim_alerts)()

    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the archive
    try:
        with caplog.at_level(logging.INFO, logger="monitor"):
            asyncio.run(ticks(10))
            said = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
            assert len(said) == 1 and "database is locked" in said[0], said
            clock = daemon.faults.clock
            daemon.faults.clock = lambda: clock() + 61  # a minute on: said again, once
            asyncio.run(ticks(3))
    finally:
        holder.rollback()
        holder.close()
        app.archive.close()
    said = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(said) == 2, said
    assert daemon.tally.fault.endswith("database is locked")  # the pass's line says it
