"""A healthy feed stays fresh while hostile feeds are polled beside it in the daemon."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fixtures
from tests.configs import monitor_config
from tests.hostile import HostileServer
from tests.ingest.test_hostile import CONTENT_FAULTS
from tests.servers import Route, Site

INTERVAL = 4.0


@pytest.fixture
def healthy() -> Iterator[Site]:
    server = Site(host="127.0.0.2")  # another host, as on the real web
    server.routes["/healthy.xml"] = Route(fixtures.english_feed(server.base))
    yield server
    server.close()


@pytest.mark.slow
def test_healthy_feed_staleness_beside_hostile_feeds(tmp_path: Path, healthy: Site, site: Site) -> None:
    hostile = HostileServer()
    for path, body in CONTENT_FAULTS.items():
        site.routes[path] = Route(body)
    every = f"{INTERVAL:g}s"
    sources = [{"name": "Healthy", "url": healthy.url("/healthy.xml"), "every": every}]
    sources += [{"name": f"c{path}", "url": site.url(path), "every": every} for path in CONTENT_FAULTS]
    sources += [
        {"name": f"s{path}", "url": hostile.url(path), "every": every}
        for path in ("/trickle", "/endless", "/gzip-bomb", "/lying-length", "/header-flood")
    ]
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        fetch={"timeout": "3s"},
        defaults={"full_text": "never"},
        sources=sources,
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        time.sleep(30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        hostile.close()
    starts = [moment for path, moment in healthy.started_paths if path == "/healthy.xml"]
    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(starts))
    assert daemon.returncode == 0
    assert len(starts) >= 6, starts
    p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
    print(f"healthy polls: {len(starts)}, gap p50 {gaps[len(gaps) // 2]:.2f}s, p99 {p99:.2f}s")
    assert p99 <= 1.5 * INTERVAL, gaps
