"""An updated article (same URL, changed text) updates the archive and alerts only on a rule it
newly matches."""

from __future__ import annotations

import sqlite3
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests import fixtures
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.conftest import Cli
from tests.fixtures import rss
from tests.servers import Route, Site, WebhookReceiver

UPDATE_RULES = [
    {"name": "Iron Dome", "terms": ["Iron Dome"]},
    {"name": "Laser", "terms": ["Iron Beam"]},
]


def _desk_feed_config(tmp_path: Path, site: Site, alerts: list[dict[str, Any]] | None = None) -> Path:
    """One feed, /feed.xml, read without its pages, under UPDATE_RULES."""
    return monitor_config(
        tmp_path,
        watch=UPDATE_RULES,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": "never"},
        sources=[{"name": "Desk Feed", "url": site.url("/feed.xml")}],
        alerts=alerts or [],
    )


def _serve(site: Site, description: str) -> None:
    site.routes["/feed.xml"] = Route(
        rss([{"title": "Air defence talks", "link": f"{site.base}/news/1", "description": description}])
    )


def test_updates_replace_the_text_and_alert_only_on_new_matches(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    config = _desk_feed_config(
        tmp_path,
        site,
        alerts=[
            {"name": "all", "notify": [{"webhook": webhook.url}]},
            {"name": "lasers", "rules": ["Laser"], "notify": [{"webhook": webhook.url}]},
        ],
    )

    def once() -> None:
        code, _, err = cli("-c", str(config), "once")
        assert code == 0, err

    _serve(site, "Officials met to discuss budgets for the coming year.")
    once()
    assert webhook.deliveries == []

    _serve(site, "Officials met to discuss buying an Iron Dome battery.")
    once()
    [first] = webhook.wait_for(1)
    assert (first.payload["alert"], first.payload["rules"]) == ("all", ["Iron Dome"])

    _serve(site, "Officials met to discuss buying an Iron Dome battery, and its price.")
    once()  # still the same rule: nothing new to say
    _serve(site, "Officials met to discuss an Iron Dome battery and the Iron Beam laser.")
    once()  # a newly matched rule: only the alert that had not yet sent this story
    deliveries = webhook.wait_for(2)
    assert [(d.payload["alert"], d.payload["rules"]) for d in deliveries] == [
        ("all", ["Iron Dome"]),
        ("lasers", ["Laser"]),
    ]

    [article] = cli.json("-c", str(config), "search", '"iron beam"', "--format", "json")
    assert sorted(article["rules"]) == ["Iron Dome", "Laser"]
    assert cli.json("-c", str(config), "search", "budgets", "--format", "json") == []
    assert len(webhook.deliveries) == 2


def test_a_changed_feed_reads_only_its_new_and_edited_items(cli: Cli, tmp_path: Path, site: Site) -> None:
    config = _desk_feed_config(tmp_path, site)

    def serve(*numbers: int) -> None:
        items = [
            {"title": f"Report {n}", "link": f"{site.base}/news/{n}", "description": "Talks."}
            for n in numbers
        ]
        site.routes["/feed.xml"] = Route(rss(items))

    def once() -> str:
        code, out, err = cli("-c", str(config), "once")
        assert code == 0, err
        return out

    serve(1, 2)
    assert "2 entries, 2 new articles" in once()
    serve(3, 1, 2)
    assert "3 entries, 1 new article, 0 updated" in once()  # items 1 and 2 were skipped, not re-read
    with sqlite3.connect(tmp_path / "data" / "monitor.db") as connection:
        [(digests,)] = connection.execute("SELECT entry_digests FROM sources").fetchall()
    assert len(digests) == 3 * 8
    # An article gone from the archive (retention) is not brought back by its unchanged item.
    with sqlite3.connect(tmp_path / "data" / "monitor.db") as connection:
        connection.execute("DELETE FROM articles WHERE title = 'Report 1'")
    serve(4, 3, 1, 2)
    assert "4 entries, 1 new article, 0 updated" in once()
    titles = {row["title"] for row in cli.json("-c", str(config), "search", "talks", "--format", "json")}
    assert titles == {"Report 2", "Report 3", "Report 4"}


@pytest.mark.parametrize("dated", [False, True])
def test_links_and_guids_that_change_on_every_fetch_do_not_make_new_articles(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver, dated: bool
) -> None:
    """Also when the feed dates every item at its fetch (a review found three copies a poll
    once the date had to match: the page, its link but for the query, tells them one)."""
    fetches = [0]

    def rotating(_request: BaseHTTPRequestHandler) -> Route:
        fetches[0] += 1
        token = f"utm_source={fetches[0]}&amp;session={fetches[0] * 7919}"
        date = formatdate(time.time() + fetches[0], usegmt=True) if dated else fixtures.RFC822
        entries = [
            {
                "title": f"Iron Dome story {n}",
                "link": site.url(f"/story/{n}?{token}"),
                "guid": f"urn:rotating:{fetches[0]}:{n}",
                "description": f"The Iron Dome battery number {n} was inspected on Tuesday.",
                "date": date,
            }
            for n in range(3)
        ]
        return Route(fixtures.rss(entries))

    site.routes["/rotating.xml"] = rotating
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        sources=[{"name": "Rotating", "url": site.url("/rotating.xml"), "full_text": "never"}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    for _ in range(3):
        code, _, err = cli("-c", str(config), "once")
        assert code == 0, err
    assert fetches[0] == 3
    found = cli.json("-c", str(config), "search", "iron", "--format", "json", "--limit", "50")
    assert sorted(article["title"] for article in found) == [f"Iron Dome story {n}" for n in range(3)]
    assert len(webhook.deliveries) == 3


def test_once_counts_an_updated_article_as_updated_not_new(cli: Cli, tmp_path: Path, site: Site) -> None:
    config = monitor_config(
        tmp_path,
        watch=UPDATE_RULES,
        fetch={"host_gap": "0s"},
        defaults={"full_text": "never"},
        sources=[{"name": "Desk Feed", "url": site.url("/feed.xml")}],
    )
    _serve(site, "Officials met to discuss buying an Iron Dome battery.")
    assert "1 new article, 0 updated, 1 matched" in cli("-c", str(config), "once")[1]
    _serve(site, "Officials met to discuss buying an Iron Dome battery, and its price.")
    assert "0 new articles, 1 updated, 1 matched" in cli("-c", str(config), "once")[1]
