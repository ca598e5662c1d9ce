"""The read side's searches: prefixes take turns, waiting on the event loop, so that searches
without prefixes never queue behind them for a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.errors import SearchTooSlow
from monitor.metrics import Metrics
from monitor.rules import parse_query
from monitor.serve import api
from monitor.serve.api import build_api
from monitor.serve.searching import PREFIX_TURNS, Searching, prefixes, prefixes_asked
from monitor.serve.web import Protections
from tests.configs import monitor_config
from tests.serve.conftest import archive_with_articles


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ka*", 1),
        ("ka* OR lo* OR dome", 2),
        ("NOT ka* dome", 0),
        ("title:ka* NEAR/3 lo*", 2),
        ("כיפ*", 8),  # the index reads it with each of the seven prefixed letters too
        ('"ka lo"', 0),
        ("dome", 0),
    ],
)
def test_the_prefixes_a_query_asks_of_the_index(query: str, expected: int) -> None:
    assert prefixes(parse_query(query)) == expected == prefixes_asked(query)


def test_a_blank_or_broken_query_asks_none() -> None:
    assert prefixes(None) == prefixes_asked("  ") == prefixes_asked("ka* AND (") == 0


def test_plain_searches_pass_a_crowd_waiting_for_turns_and_turns_come_back() -> None:
    release = threading.Event()
    reads = ThreadPoolExecutor(8)

    def slow_prefix_search() -> str:
        release.wait(10)
        return "prefix"

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.5)
        running = [asyncio.create_task(searching.run(1, slow_prefix_search)) for _ in range(PREFIX_TURNS)]
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, str, "late")) for _ in range(20)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        assert await searching.run(0, str, "plain") == "plain"  # more waiting than threads: no matter
        assert time.monotonic() - began < 0.3
        for late in waiting:
            with pytest.raises(SearchTooSlow, match=r"longer than 0\.5 s"):
                await late
        release.set()
        assert await asyncio.gather(*running) == ["prefix"] * PREFIX_TURNS
        # Every turn given back, by searches that ended and by those refused.
        assert await asyncio.gather(*(searching.run(1, str, n) for n in range(PREFIX_TURNS))) == [
            str(n) for n in range(PREFIX_TURNS)
        ]
        assert searching._free == PREFIX_TURNS

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        reads.shutdown()


def test_a_search_of_many_prefixes_takes_every_turn() -> None:
    release = threading.Event()
    reads = ThreadPoolExecutor(4)

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.3)
        one = asyncio.create_task(searching.run(1, release.wait, 10))
        await asyncio.sleep(0.05)
        with pytest.raises(SearchTooSlow):  # 22 prefixes wait for all four turns
            await searching.run(22, str, "many")
        release.set()
        await one
        assert await searching.run(22, str, "many") == "many"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        reads.shutdown()


class _NoTurnFree(Searching):
    """Every turn held, as by slow prefix searches."""

    def __init__(self, reads: Executor, time_limit: float) -> None:
        super().__init__(reads, time_limit)
        self._free = 0


def test_a_search_with_no_turn_within_its_limit_is_said_where_it_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive_with_articles(tmp_path)
    watch: list[dict[str, Any]] = [
        {"name": "Pref", "query": "dom*"},
        {"name": "Iron Dome", "terms": ["Iron Dome"]},
    ]
    settings = load_settings(monitor_config(tmp_path, watch=watch, serve={"search_timeout": "200ms"}))
    archive = SqlArchive(settings.database_url())
    monkeypatch.setattr(api, "Searching", _NoTurnFree)
    reads = ThreadPoolExecutor(4)
    app = Protections(build_api(archive, settings, Metrics(), reads), [])

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            refused = await client.get("/api/v1/articles", params={"q": "dom*"})
            assert refused.status_code == 503
            assert "longer than 0.2 s and was stopped: narrow it" in refused.json()["error"]
            page = await client.get("/", params={"q": "dom*"})
            assert page.status_code == 503 and "longer than 0.2 s" in page.text
            assert 'value="dom*"' in page.text  # the form kept, to narrow it
            feed = await client.get("/feeds/rules/Pref.atom")
            assert feed.status_code == 503 and "the rule 'Pref' asks too much" in feed.json()["error"]
            rule_page = await client.get("/rules/Pref")
            assert rule_page.status_code == 200 and "the rule &#39;Pref&#39; asks too much" in rule_page.text
            assert "Mentions per day" in rule_page.text
            # Nothing without a prefix waits for a turn.
            plain = await client.get("/api/v1/articles", params={"q": "dome"})
            assert [item["id"] for item in plain.json()["articles"]]
            assert (await client.get("/", params={"q": "iron"})).status_code == 200
            assert (await client.get("/feeds/rules/Iron Dome.atom")).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()
        archive.close()
