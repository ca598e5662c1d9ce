"""HTTP semantics of polling: Retry-After, 410, 301, 304, lying validators, unchanged bodies."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from monitor.app import App, build_app
from monitor.archive import SearchFilters
from monitor.config.loading import load_settings
from monitor.errors import ArchiveError
from monitor.models import PollStatus, SourceState
from monitor.net.retry import retry_after
from monitor.rules import parse_query
from tests import fixtures
from tests.configs import monitor_config
from tests.servers import Route, Site

NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, site: Site, clock: Clock) -> Iterator[App]:
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        fetch={"host_gap": "0s"},
        defaults={"every": "10m", "full_text": "never"},
        sources=[{"name": "S", "url": site.url("/feed.xml")}],
    )
    application = build_app(load_settings(config), clock=clock)
    yield application
    asyncio.run(application.aclose())


def poll(app: App) -> SourceState:
    asyncio.run(app.poll())
    state = app.archive.source_states_of(["S"]).get("S")
    assert state is not None
    return state


def item(n: int) -> dict[str, str]:
    return {"title": f"Story {n}", "link": f"http://news.test/{n}", "description": "x" * 700}


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (format_datetime(NOW + timedelta(minutes=5), usegmt=True), 300.0),
        ("999999999", 86400.0),
        ("soon", None),
        ("", None),
        ("-5", None),
    ],
)
def test_retry_after_forms(header: str, seconds: float | None) -> None:
    assert retry_after(header, NOW) == seconds


def test_429_honours_retry_after(app: App, site: Site, clock: Clock) -> None:
    site.routes["/feed.xml"] = Route(b"slow down", 429, headers={"Retry-After": "7200"})
    state = poll(app)
    assert state.next_due == NOW + timedelta(hours=2)
    assert state.last_error is not None and "HTTP 429" in state.last_error
    site.routes["/feed.xml"] = Route(b"down", 503, headers={"Retry-After": "garbage"})
    clock.now = NOW + timedelta(hours=2)
    state = poll(app)
    assert state.consecutive_errors == 2
    assert timedelta(minutes=36) <= state.next_due - clock.now <= timedelta(minutes=44)  # type: ignore[operator]


def test_410_stops_polling(app: App, site: Site) -> None:
    site.routes["/feed.xml"] = Route(b"", 410)
    state = poll(app)
    assert state.next_due is None and state.last_status == PollStatus.parse("gone")
    assert state.last_error is not None and "polling stopped" in state.last_error
    assert app.archive.claim_due_sources(NOW + timedelta(days=365), NOW, 10, ["S"]) == []


def test_301_updates_the_url_polled(app: App, site: Site, clock: Clock) -> None:
    site.routes["/feed.xml"] = Route(b"", 301, headers={"Location": site.url("/new.xml")})
    site.routes["/new.xml"] = Route(fixtures.rss([item(1)]))
    state = poll(app)
    assert state.moved_to == site.url("/new.xml")
    clock.now += timedelta(minutes=20)
    poll(app)
    assert site.hits("/feed.xml") == 1 and site.hits("/new.xml") == 2


def test_304_and_lying_validators(app: App, site: Site, clock: Clock) -> None:
    feed = {"body": fixtures.rss([item(1)])}

    def conditional(request: BaseHTTPRequestHandler) -> Route:
        if request.headers.get("If-None-Match") == '"v1"':
            return Route(b"", 304)  # lies once the feed has changed
        return Route(feed["body"], headers={"ETag": '"v1"'})

    site.routes["/feed.xml"] = conditional
    assert poll(app).last_status == PollStatus.parse("ok (200)")
    feed["body"] = fixtures.rss([item(2), item(1)])
    clock.now += timedelta(minutes=20)
    assert poll(app).last_status == PollStatus.parse("not modified")
    clock.now += timedelta(days=1)
    assert poll(app).last_status == PollStatus.parse("ok (200)")  # the daily fetch without validators
    stored = app.archive.search(parse_query("story"), SearchFilters())
    assert sorted(found.article.title for found in stored) == ["Story 1", "Story 2"]


def test_unchanged_body_is_not_parsed_again(app: App, site: Site, clock: Clock) -> None:
    site.routes["/feed.xml"] = Route(fixtures.rss([item(1)]))
    poll(app)
    clock.now += timedelta(minutes=20)
    assert poll(app).last_status == PollStatus.parse("unchanged (same body)")


def test_an_archive_that_cannot_be_read_is_not_the_source_s_failure(
    app: App, site: Site, clock: Clock, tmp_path: Path
) -> None:
    site.routes["/feed.xml"] = Route(fixtures.rss([item(1)]))
    poll(app)
    site.routes["/feed.xml"] = Route(fixtures.rss([item(2), item(1)]))
    clock.now += timedelta(minutes=20)
    with sqlite3.connect(tmp_path / "m.db") as connection:  # the archive's fault, not the feed's
        connection.execute("ALTER TABLE articles RENAME TO articles_elsewhere")
    with pytest.raises(ArchiveError, match="cannot read the archive: no such table: articles"):
        asyncio.run(app.poll())
    state = app.archive.source_states_of(["S"]).get("S")
    assert (
        state is not None
        and state.last_status == PollStatus.parse("ok (200)")
        and state.consecutive_errors == 0
    )


def test_adaptive_interval_follows_how_busy_a_source_is(tmp_path: Path, site: Site, clock: Clock) -> None:
    config = monitor_config(
        tmp_path,
        storage="sqlite:///a.db",
        fetch={"host_gap": "0s"},
        defaults={"full_text": "never"},
        sources=[
            {
                "name": "S",
                "url": site.url("/feed.xml"),
                "every": "10m",
                "min_every": "4m",
                "max_every": "20m",
            }
        ],
        name="adaptive.yaml",
    )
    app = build_app(load_settings(config), clock=clock)
    try:
        intervals = []
        for items in ([1], [2, 1], [2, 1], [2, 1], [2, 1], [3, 2, 1]):
            site.routes["/feed.xml"] = Route(fixtures.rss([item(n) for n in items]))
            state = poll(app)
            intervals.append(state.interval)
            clock.now += timedelta(hours=1)
    finally:
        asyncio.run(app.aclose())
    minutes = [interval.total_seconds() / 60 for interval in intervals if interval is not None]
    assert minutes == [5, 4, 6, 9, 13.5, 6.75]
