"""robots.txt is obeyed for article pages, with a per-source override."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests import fixtures
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site


def teaser_feed(site: Site) -> bytes:
    return fixtures.rss(
        [
            {"title": "Open", "link": site.url("/news/open.html"), "description": "Teaser…"},
            {"title": "Closed", "link": site.url("/private/closed.html"), "description": "Teaser…"},
        ]
    )


def run_once(cli: Cli, tmp_path: Path, site: Site, robots: bool) -> None:
    page = Route(fixtures.article_page(fixtures.SHIELD_PARAGRAPH), headers={"Content-Type": "text/html"})
    site.routes.update(
        {"/t.xml": Route(teaser_feed(site)), "/news/open.html": page, "/private/closed.html": page}
    )
    source = {"name": "T", "url": site.url("/t.xml"), "robots": robots}
    config = monitor_config(tmp_path, storage="sqlite:///m.db", fetch={"host_gap": "0s"}, sources=[source])
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err


@pytest.mark.parametrize(
    ("robots_route", "open_hits", "closed_hits"),
    [
        (Route(b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}), 1, 0),
        (Route(b"User-agent: monitor\nDisallow: /\n", headers={"Content-Type": "text/plain"}), 0, 0),
        (Route(b"", 404), 1, 1),
        (Route(b"", 503), 0, 0),
    ],
)
def test_robots_rules(
    cli: Cli, tmp_path: Path, site: Site, robots_route: Route, open_hits: int, closed_hits: int
) -> None:
    site.routes["/robots.txt"] = robots_route
    run_once(cli, tmp_path, site, robots=True)
    assert (site.hits("/news/open.html"), site.hits("/private/closed.html")) == (open_hits, closed_hits)
    assert site.hits("/robots.txt") == 1  # cached for the pass


def test_per_source_override(cli: Cli, tmp_path: Path, site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /\n")
    run_once(cli, tmp_path, site, robots=False)
    assert site.hits("/private/closed.html") == 1 and site.hits("/robots.txt") == 0


@pytest.mark.parametrize(
    ("robots_route", "said"),
    [
        (Route(b"User-agent: *\nDisallow: /\n", headers={"Content-Type": "text/plain"}), None),
        (Route(b"", 503), "robots.txt could not be read (HTTP 503"),
    ],
)
def test_why_a_page_was_not_read_is_said_as_it_is(
    cli: Cli,
    tmp_path: Path,
    site: Site,
    caplog: pytest.LogCaptureFixture,
    robots_route: Route,
    said: str | None,
) -> None:
    site.routes["/robots.txt"] = robots_route
    with caplog.at_level(logging.DEBUG, logger="monitor"):
        run_once(cli, tmp_path, site, robots=True)
    lines = [record.getMessage() for record in caplog.records]
    unreadable = [line for line in lines if "could not be read" in line]
    if said is None:  # a robots.txt that was read and disallows: said so, page by page, in the debug log
        assert not unreadable
        assert sum("robots.txt disallows the page" in line for line in lines) == 2
    else:  # unreachable: one warning for the site, naming the cause; never "disallows"
        assert len([line for line in unreadable if "article pages wait 15 min" in line]) == 1, lines
        assert said in unreadable[0], unreadable
        assert not any("disallows" in line for line in lines), lines
