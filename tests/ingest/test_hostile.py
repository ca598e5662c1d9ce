"""Hostile servers and hostile content: the pass finishes, nothing crashes or hangs, memory stays
bounded, healthy sources are read on time, and each hostile source shows a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.ingest.pages.extract import declared_kind, extract_page
from monitor.ingest.parse.declarations import strip_declarations
from monitor.ingest.parse.entries import MAX_FIELD_CHARS
from monitor.ingest.parse.feeds import looks_like_html
from tests import fixtures
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.hostile import HostileServer
from tests.servers import Route, Site

ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE rss ['
    + b'<!ENTITY a0 "dosdosdosdosdosdosdosdosdosdos">'
    + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b']><rss version="2.0"><channel><title>&a9;</title><item><title>&a9;</title>'
    + b"<link>http://x.test/1</link></item></channel></rss>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
    b"<link>http://x.test/2</link><description>root:x:0:0</description></item></channel></rss>"
)
REDOS_AUTHOR = fixtures.rss([{"title": "a", "link": "http://x.test/3"}]).replace(
    b"<title>a</title>", b"<title>a</title><author>" + b"a" * 200_000 + b"@</author>"
)
MANY_ITEMS = fixtures.rss([{"title": f"t{i}", "link": f"http://x.test/m{i}"} for i in range(40_000)])
DEEP = fixtures.rss([{"title": "deep", "link": "http://x.test/4", "description": "&lt;b&gt;" * 50_000}])
NULS = fixtures.rss([{"title": "nul\x00title", "link": "http://x.test/5", "description": "a\x00b" * 10}])
CONTENT_FAULTS = {
    "/entity-bomb.xml": ENTITY_BOMB,
    "/xxe.xml": XXE,
    "/path-like.xml": b"/etc/passwd",
    "/dev-zero.xml": b"/dev/zero",
    "/redos.xml": REDOS_AUTHOR,
    "/many-items.xml": MANY_ITEMS,
    "/deep.xml": DEEP,
    "/nuls.xml": NULS,
    "/login.xml": fixtures.LOGIN_PAGE,
    "/empty.xml": b"",
}
SERVER_FAULTS = ["/trickle", "/endless", "/lying-length", "/header-flood", "/gzip-bomb", "/garbage-status"]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


@pytest.mark.slow
def test_a_pass_over_every_hostile_source(
    cli: Cli, tmp_path: Path, site: Site, hostile: HostileServer
) -> None:
    for path, body in CONTENT_FAULTS.items():
        site.routes[path] = Route(body)
    site.routes["/healthy.xml"] = Route(fixtures.english_feed(site.base))
    sources = [{"name": "Healthy", "url": site.url("/healthy.xml"), "full_text": "never"}]
    sources += [{"name": f"content{path}", "url": site.url(path)} for path in CONTENT_FAULTS]
    sources += [{"name": f"server{path}", "url": hostile.url(path)} for path in SERVER_FAULTS]
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        fetch={"timeout": "3s", "max_bytes": 10_485_760, "host_gap": "0s", "per_host": 16},
        defaults={"full_text": "never"},
        sources=sources,
    )
    started = time.monotonic()
    code, out, _ = cli("-c", str(config), "once")
    elapsed = time.monotonic() - started
    assert code == 0, out
    assert elapsed < 20, f"the pass took {elapsed:.1f}s"
    states = {s["name"]: s for s in cli.json("-c", str(config), "sources", "--format", "json")}
    assert states["Healthy"]["status"] == "ok (200)"
    errors = {name: state["last_error"] or "" for name, state in states.items()}
    assert "no complete answer within 3s" in errors["server/trickle"]
    assert "cap" in errors["server/endless"]
    assert "cap" in errors["server/gzip-bomb"]
    assert errors["server/lying-length"] and errors["server/garbage-status"]
    assert errors["server/header-flood"]
    assert "not a readable feed" in errors["content/path-like.xml"]
    assert "HTML page" in errors["content/login.xml"] or "not a readable" in errors["content/login.xml"]
    found = cli.json("-c", str(config), "search", "NOT zzzz", "--limit", "5000", "--format", "json")
    titles = [article["title"] for article in found]
    assert all("root:" not in title and "dosdos" not in title for title in titles)
    assert all("\x00" not in article["title"] + article["summary"] for article in found)
    assert sum(1 for article in found if article["source"] == "content/many-items.xml") == 2000


PEAK_RSS_SCRIPT = """
import asyncio, json, sys
from datetime import timedelta
from monitor.net.egress import EgressPolicy
from monitor.ingest.fetch.client import Fetcher

async def main(url):
    fetcher = Fetcher("t", timedelta(seconds=20), 10 * 1024 * 1024, 2)
    policy = EgressPolicy.for_source(url)
    try:
        await fetcher.get(url.replace("/gzip-bomb", "/missing"), policy=policy)
    except Exception:
        pass
    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1])
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets the peak (VmHWM) to the current size
    before = status("VmRSS:")
    error = ""
    try:
        await fetcher.get(url, policy=policy)
    except Exception as caught:
        error = str(caught)
    after = status("VmHWM:")
    await fetcher.close()
    print(json.dumps({"growth_kib": after - before, "error": error}))

asyncio.run(main(sys.argv[1]))
"""


def test_peak_memory_on_a_200_mib_gzip_bomb(hostile: HostileServer) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, hostile.url("/gzip-bomb")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    assert "cap" in report["error"]
    assert report["growth_kib"] <= (10 + 16) * 1024, report


def test_a_huge_page_is_read_within_bounds_and_keeps_its_article() -> None:
    """Three megabytes of scripts before the article, and an article of a million words: the
    scripts go, the article is found, its text is cut to the field cap; a page of nothing but
    unclosed <script> openings reads as empty, at once."""
    words = " ".join(f"interceptor{index % 97}" for index in range(1_000_000))
    body = (
        "<html><head><script>" + "var state = {};" * 200_000 + "</script><title>Report</title></head>"
        f"<body><article><h1>Iron Dome report</h1><p>The Iron Dome battery was shown. {words}</p>"
        "</article></body></html>"
    ).encode()
    page = extract_page(body, "http://x.test/big", "text/html", False)
    assert "The Iron Dome battery was shown." in page.text[:100] and len(page.text) == MAX_FIELD_CHARS
    assert extract_page(b"<script " * 2_000_000, "http://x.test/scripts", "text/html", False).text == ""


def test_pathological_markup_is_read_in_linear_time() -> None:
    """Each held the GIL for minutes to hours: forty empty comments before a stray byte (the
    HTML sniff backtracked exponentially), a megabyte of unclosed DOCTYPE openings, and a page
    head of unclosed <meta>/<script> openings (the page's declared kind)."""
    started = time.monotonic()
    assert not looks_like_html(b"<!---->" * 40 + b"x")
    assert strip_declarations(b"<!DOCTYPE[" * 100_000).startswith(b"<!DOCTYPE[")
    assert declared_kind("<meta " * 50_000) is None
    assert declared_kind('<script type="application/ld+json">' * 10_000) is None
    assert declared_kind("<meta " + 'property="og:type" ' * 40_000) is None  # one unclosed tag
    assert declared_kind("<script " + "application/ld+json " * 50_000) is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_json_ld_nested_past_the_parsers_depth_is_no_declaration(nested: str) -> None:
    """It raised RecursionError, and the poll of the page's source failed as the monitor's fault."""
    assert declared_kind(f'<script type="application/ld+json">{nested}</script>') is None


@pytest.mark.parametrize("opening", ["<svg-icon name='dome'></svg-icon>", "<svg viewBox='0 0 1 1'>"])
def test_a_huge_page_keeps_its_article_past_a_custom_or_unclosed_element(opening: str) -> None:
    """<svg-icon> is a custom element, not an <svg>; an unclosed <svg> loses its tag, not the
    article after it."""
    body = (
        "<html><head><script>" + "var state = {};" * 100_000 + "</script><title>Report</title></head>"
        f"<body>{opening}<article><h1>Iron Dome report</h1>"
        + "<p>The Iron Dome battery was shown to visiting engineers at the coast.</p>" * 20
        + "</article></body></html>"
    ).encode()
    assert "Iron Dome battery was shown" in extract_page(body, "http://x.test/big", "text/html", False).text
