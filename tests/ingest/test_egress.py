"""The egress gate: no content-derived URL reaches a non-public address, whatever its spelling."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import FetchError
from monitor.ingest.fetch.client import Fetcher, FetchResponse
from monitor.net.egress import EgressPolicy, is_public
from monitor.net.urls import check_url
from tests import fixtures
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site


@pytest.fixture
def canary() -> Iterator[Site]:
    """A server nothing may reach: it stands for the operator's LAN or a metadata service."""
    server = Site()
    server.routes["/"] = Route(b"secret")
    yield server
    assert server.requests == [], "the canary was reached"
    server.close()


def fetch(url: str, policy: EgressPolicy, content: bool = True) -> FetchResponse:
    async def run() -> FetchResponse:
        fetcher = Fetcher("monitor-test", timedelta(seconds=3), 1_000_000, 4)
        try:
            return await fetcher.get(url, policy=policy, content=content)
        finally:
            await fetcher.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::1", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:0001::", False),
        ("2002:0a00:0001::", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://example.org/",
        "http://user:secret@example.org/",
        "http://example.org/a b",
        "http://example.org/\x00",
        "http:\\\\example.org\\x",
        "http:///nohost",
    ],
)
def test_urls_refused_before_any_connection(url: str) -> None:
    with pytest.raises(FetchError, match="refused"):
        check_url(url)


def test_every_spelling_of_another_loopback_port_is_refused(site: Site, canary: Site) -> None:
    port = canary.server.server_address[1]
    policy = EgressPolicy.for_source(site.url("/feed.xml"))
    spellings = [
        f"http://127.0.0.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://localhost:{port}/",
        f"http://127.000.000.001:{port}/",
    ]
    refused = 0
    for url in spellings:
        with pytest.raises(FetchError) as caught:
            fetch(url, policy)
        assert "refused" in str(caught.value) or "invalid URL" in str(caught.value), url
        refused += 1
    assert refused == len(spellings)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_networks_are_refused_without_traffic(url: str) -> None:
    with pytest.raises(FetchError, match="egress refused"):
        fetch(url, EgressPolicy.for_source("https://news.example.org/feed"))


def test_a_redirect_into_private_space_is_refused(site: Site, canary: Site) -> None:
    site.routes["/hop"] = Route(b"", 302, headers={"Location": canary.url("/")})
    with pytest.raises(FetchError, match="egress refused"):
        fetch(site.url("/hop"), EgressPolicy.for_source(site.url("/feed.xml")), content=False)


def test_own_origin_and_allow_private(site: Site) -> None:
    site.routes["/page"] = Route(b"<html>ok</html>")
    assert fetch(site.url("/page"), EgressPolicy.for_source(site.url("/feed.xml"))).body
    other = Site()
    other.routes["/"] = Route(b"intranet")
    try:
        policy = EgressPolicy.for_source(site.url("/feed.xml"), allow_private=True)
        assert fetch(other.url("/"), policy).body == b"intranet"
    finally:
        other.close()


def test_a_hostile_feed_cannot_make_the_pipeline_reach_the_canary(
    cli: Cli, tmp_path: Path, site: Site, canary: Site
) -> None:
    item = {
        "title": "Iron Dome teaser",
        "link": canary.url("/"),
        "description": "Short Iron Dome teaser…",
    }
    site.routes["/hostile.xml"] = Route(fixtures.rss([item]))
    config = monitor_config(
        tmp_path, storage="sqlite:///m.db", sources=[{"name": "Hostile", "url": site.url("/hostile.xml")}]
    )
    code, out, _ = cli("-c", str(config), "once")
    assert code == 0 and "1 new article," in out
    [stored] = cli.json("-c", str(config), "search", '"iron dome"', "--format", "json")
    assert "Iron Dome" in stored["rules"]  # matched on the feed's own text
