"""SIGKILL `monitor run` at random moments, restart it, and prove nothing was lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests import fixtures
from tests.configs import monitor_config
from tests.servers import Route, Site, WebhookReceiver

KILLS = 30
SOURCES = 3
MAX_ITEMS = 40


class GrowingFeed:
    """Each request shows one more story than the last (all of them match the rule)."""

    def __init__(self, site: Site, name: str) -> None:
        self.site, self.name, self.count, self.lock = site, name, 0, threading.Lock()

    def __call__(self, request: BaseHTTPRequestHandler) -> Route:
        with self.lock:
            self.count = min(self.count + 1, MAX_ITEMS)
            count = self.count
        items = [
            {
                "title": f"{self.name} Iron Dome story {n}",
                "link": self.site.url(f"/{self.name}/{n}"),
                "description": "Iron Dome. " + fixtures.distinct_text(f"{self.name}/{n}"),
            }
            for n in range(count)
        ]
        return Route(fixtures.rss(items))


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    webhook.delay = 0.1  # kills then land inside sends, between the POST and marking it sent
    feeds = [GrowingFeed(site, f"s{n}") for n in range(SOURCES)]
    for feed in feeds:
        site.routes[f"/{feed.name}.xml"] = feed
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        fetch={"host_gap": "0s", "per_host": 8},
        defaults={"full_text": "never"},
        sources=[{"name": f.name, "url": site.url(f"/{f.name}.xml"), "every": "1s"} for f in feeds],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    rng = random.Random(42)
    for _ in range(KILLS):
        daemon = start(config)
        time.sleep(rng.uniform(0.8, 2.5))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
    while any(feed.count < MAX_ITEMS for feed in feeds):  # let every feed reach its last story
        for feed in feeds:
            feed(None)  # type: ignore[arg-type]
    final = start(config)
    try:
        deadline = time.monotonic() + 60
        while len({d.payload["article"]["id"] for d in webhook.deliveries}) < SOURCES * MAX_ITEMS:
            assert time.monotonic() < deadline, "not every story was alerted after the restarts"
            time.sleep(0.2)
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=60) == 0
    finally:
        if final.poll() is None:  # a failing run must not leave the daemon behind
            final.kill()
            final.wait(timeout=30)

    database = sqlite3.connect(tmp_path / "m.db")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    matched = database.execute("SELECT COUNT(*) FROM articles WHERE matched = 1").fetchone()[0]
    rows = database.execute("SELECT COUNT(*), COUNT(DISTINCT story) FROM alerts").fetchone()
    states = dict(database.execute("SELECT state, COUNT(*) FROM alerts GROUP BY state").fetchall())
    keys: dict[str, set[str]] = defaultdict(set)
    for delivery in webhook.deliveries:
        keys[delivery.payload["article"]["id"]].add(delivery.headers["Idempotency-Key"])
    redelivered = len(webhook.deliveries) - len(keys)
    print(
        f"kills {KILLS}: articles {matched} of {SOURCES * MAX_ITEMS}, alert rows {rows[0]}, "
        f"deliveries {len(webhook.deliveries)} ({redelivered} repeated), states {states}"
    )
    assert matched == SOURCES * MAX_ITEMS  # no matched article lost, none duplicated
    assert rows == (matched, matched)  # one alert row per story, none lost or doubled
    assert states == {"sent": matched}  # every pending alert was sent after the restart
    assert all(len(k) == 1 for k in keys.values())  # a re-delivery carries the same key
