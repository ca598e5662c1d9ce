"""Several `monitor run` daemons on one PostgreSQL archive, as real processes: each story is
alerted once however many daemons run, and a daemon starting beside a running one leaves that
one's claims alone."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests import fixtures
from tests.configs import monitor_config
from tests.servers import Route, Site, WebhookReceiver
from tests.test_daemon import start_daemon

FEEDS = 12


@pytest.mark.slow
def test_two_daemons_share_the_polls_and_alert_each_story_once(
    tmp_path: Path, site: Site, webhook: WebhookReceiver, postgres_url: str, postgres_schema: str
) -> None:
    sources = []
    for feed in range(FEEDS):
        item = {
            "title": f"Iron Dome report {feed}",
            "link": site.url(f"/d/{feed}"),
            "description": f"Officials toured an Iron Dome battery, visit {feed}."
            + fixtures.filler(f"f{feed}"),
        }
        site.routes[f"/feed{feed}.xml"] = Route(fixtures.rss([item]))
        sources.append({"name": f"Feed {feed}", "url": site.url(f"/feed{feed}.xml"), "every": "1s"})
    config = monitor_config(
        tmp_path,
        storage=f"{postgres_url}?options=-csearch_path%3D{postgres_schema}",
        sources=sources,
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    daemons = [start_daemon(config)]
    time.sleep(0.5)
    daemons.append(start_daemon(config))
    try:
        deliveries = webhook.wait_for(FEEDS, timeout=60)
        time.sleep(4)  # several more passes of both: nothing more goes out
        assert all(site.hits(f"/feed{feed}.xml") >= 2 for feed in range(FEEDS))
    finally:
        outputs = []
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            outputs.append(daemon.communicate(timeout=60)[0])
    for daemon, output in zip(daemons, outputs, strict=True):
        assert daemon.returncode == 0, output
        assert "the archive is shared" in output
    titles = sorted(delivery.payload["article"]["title"] for delivery in webhook.deliveries)
    assert titles == sorted(f"Iron Dome report {feed}" for feed in range(FEEDS)), titles
    assert len({delivery.payload["alert_id"] for delivery in deliveries}) == FEEDS
