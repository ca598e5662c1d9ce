"""Alerts under operator mistakes and slow receivers: a second daemon is refused, two
dispatchers never send one row twice, a hanging or trickling receiver holds back no other
channel, and SIGTERM during a send lets it finish instead of repeating it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts.dispatch import AlertRoute, Dispatcher
from monitor.alerts.schedules import AlertMode
from monitor.alerts.webhook import WebhookNotifier
from monitor.archive.sql import SqlArchive
from tests import fixtures
from tests.archive.helpers import make_article
from tests.configs import monitor_config
from tests.serve.conftest import free_port
from tests.servers import Route, Site, WebhookReceiver
from tests.test_daemon import start_daemon


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 30) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if text in line or not line:
            break
    assert any(text in line for line in lines), "".join(lines)
    return lines


def daemon_config(tmp_path: Path, site: Site, webhook: WebhookReceiver, **sections: Any) -> Path:
    item = {"title": "Iron Dome battery visited", "link": site.url("/d/1"), "description": "Iron Dome."}
    site.routes["/live.xml"] = Route(fixtures.rss([item]))
    return monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        sources=[{"name": "Live", "url": site.url("/live.xml"), "every": "1s", "full_text": "never"}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
        **sections,
    )


@pytest.mark.slow
def test_a_second_daemon_on_one_sqlite_archive_is_refused_until_the_first_dies(
    tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    # Serving too: the second is told that a daemon runs, not that the address is in use.
    config = daemon_config(tmp_path, site, webhook, serve={"listen": f"127.0.0.1:{free_port()}"})
    first = start_daemon(config)
    try:
        wait_for_line(first, "monitor running")
        second = start_daemon(config)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 2, output
        assert (
            f"another monitor daemon is running on {tmp_path / 'monitor.db'}: pid {first.pid} on " in output
        )
        assert "Traceback" not in output
        (tmp_path / "alias.db").symlink_to(tmp_path / "monitor.db")  # the same file, another name
        aliased = tmp_path / "aliased.yaml"
        aliased.write_text(config.read_text().replace("sqlite:///monitor.db", "sqlite:///alias.db"))
        spelled_otherwise = start_daemon(aliased)
        output, _ = spelled_otherwise.communicate(timeout=60)
        assert spelled_otherwise.returncode == 2 and "another monitor daemon is running" in output, output
    finally:
        first.kill()  # SIGKILL: nothing is cleaned up, the kernel drops the lock
        first.communicate(timeout=30)
    third = start_daemon(config)
    try:
        wait_for_line(third, "monitor running")
    finally:
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=60)
    assert third.returncode == 0
    assert set(Counter(d.headers["Idempotency-Key"] for d in webhook.deliveries).values()) <= {1}


def test_two_dispatchers_on_one_archive_send_each_row_once(tmp_path: Path, webhook: WebhookReceiver) -> None:
    path = tmp_path / "a.db"
    writer = SqlArchive(f"sqlite:///{path}")
    route = AlertRoute(
        "desk", None, AlertMode.IMMEDIATE, (WebhookNotifier(webhook.url, timedelta(seconds=5), "t"),)
    )
    articles = [make_article(f"a{n}", text=f"Iron Dome report number {n} of many.") for n in range(12)]
    for article in articles:
        writer.store_new([article], Dispatcher(writer, [route]).outbox_for(article))
    webhook.delay = 0.05  # sends overlap in time

    def dispatcher_process() -> None:
        archive = SqlArchive(f"sqlite:///{path}")
        notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "t")
        dispatcher = Dispatcher(archive, [AlertRoute("desk", None, AlertMode.IMMEDIATE, (notifier,))])
        asyncio.run(dispatcher.dispatch())
        asyncio.run(dispatcher.close())

    threads = [threading.Thread(target=dispatcher_process) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    keys = Counter(delivery.headers["Idempotency-Key"] for delivery in webhook.deliveries)
    assert len(keys) == 12 and set(keys.values()) == {1}, keys


@pytest.fixture
def trickling_receiver() -> Iterator[str]:
    """Answers every request with headers, then one body byte a second: no read ever times out."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n")
            for _ in range(100):
                if stop.wait(1.0):
                    return
                try:
                    connection.sendall(b".")
                except OSError:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    server.close()


@pytest.mark.parametrize("slow", ["hangs", "trickles"])
def test_a_slow_receiver_holds_back_no_other_channel(
    tmp_path: Path, webhook: WebhookReceiver, trickling_receiver: str, slow: str
) -> None:
    hanging = WebhookReceiver()
    hanging.delay = 30.0
    slow_url = hanging.url if slow == "hangs" else trickling_receiver
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    notifiers = (
        WebhookNotifier(slow_url, timedelta(seconds=2), "t"),
        WebhookNotifier(webhook.url, timedelta(seconds=2), "t"),
    )
    dispatcher = Dispatcher(archive, [AlertRoute("desk", None, AlertMode.IMMEDIATE, notifiers)])
    for n in range(5):
        article = make_article(f"a{n}", text=f"Iron Dome report number {n} of many.")
        archive.store_new([article], dispatcher.outbox_for(article))

    async def dispatch_then_time_the_healthy_channel() -> tuple[float, float]:
        started = time.monotonic()
        await dispatcher.dispatch(wait=False)
        while len(webhook.deliveries) < 5:  # noqa: ASYNC110 (the receiver's thread appends them)
            await asyncio.sleep(0.02)
        healthy = time.monotonic() - started
        assert await dispatcher.drain(30) == 0
        return healthy, time.monotonic() - started

    healthy, everything = asyncio.run(dispatch_then_time_the_healthy_channel())
    asyncio.run(dispatcher.close())
    hanging.close()
    assert healthy < 1.5, f"the healthy webhook waited {healthy:.1f}s for the {slow} one"
    # Four sends to the slow receiver at once, each cut at its 2 s deadline; the fifth, waiting
    # for a slot, is left for when the channel's pause ends, no attempt spent on it.
    assert everything < 4, f"{everything:.1f}s"
    slow_rows = [row for row in archive.outbox.alerts(20) if row.state.value != "sent"]
    assert len(slow_rows) == 5
    tried = [row for row in slow_rows if row.attempts]  # dead-lettered at once: made long ago (NOW)
    assert len(tried) == 4
    for row in tried:
        assert row.last_error is not None and "not done within its 2s deadline" in row.last_error
    [left] = [row for row in slow_rows if not row.attempts]
    assert left.state.value == "pending" and left.last_error is None and left.next_attempt is not None
    assert left.next_attempt > datetime.now(UTC) + timedelta(seconds=20)


@pytest.mark.slow
def test_sigterm_during_a_send_lets_it_finish_and_never_repeats_it(
    tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    config = daemon_config(tmp_path, site, webhook)
    webhook.delay = 3.0
    daemon = start_daemon(config)
    try:
        deadline = time.monotonic() + 30
        while webhook.arrivals == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert webhook.arrivals == 1
    finally:
        daemon.send_signal(signal.SIGTERM)  # the POST is in flight, its answer 3 s away
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert "CancelledError" not in output and "Traceback" not in output, output
    assert "unfinished" not in output
    assert len(webhook.deliveries) == 1
    webhook.delay = 0.0
    rerun = subprocess.run(
        [sys.executable, "-m", "monitor", "-c", str(config), "once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "0 alerts sent" in rerun.stdout
    assert webhook.arrivals == 1 and len(webhook.deliveries) == 1
