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
from monitor.errors import ServerBusy
from monitor.metrics import Metrics
from monitor.rules import parse_query
from monitor.serve import api
from monitor.serve.api import build_api
from monitor.serve.searching import MOST_WAITING, TURNS, Searching, turns_asked, turns_needed
from monitor.serve.web import Protections
from tests.configs import monitor_config
from tests.serve.conftest import archive_with_articles


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ka*", 1),
        ("ka* OR lo* OR dome", 2),
        ("dome NOT ka*", 0),  # the index narrows to dome; ka* is verified, not gathered
        ("title:ka* NEAR/3 lo*", 2),
        ("כיפ*", 8),  # the index reads it with each of the seven prefixed letters too
        ('"ka lo"', 0),
        ("dome", 0),
        ("T-Dome", 0),
        ("NOT budget", 1),  # the index cannot narrow it: every article read in turn
        ("source:Harbor", 1),
        ("ka* OR NOT budget", 1),  # a scan: no prefix gathered
        ("(lo* OR NOT x) AND dome", 0),  # the index narrows to dome alone
    ],
)
def test_the_turns_a_query_takes(query: str, expected: int) -> None:
    assert turns_needed(parse_query(query)) == expected == turns_asked(query)


def test_a_blank_or_broken_query_takes_none() -> None:
    assert turns_needed(None) == turns_asked("  ") == turns_asked("ka* AND (") == 0


def test_plain_searches_pass_a_crowd_waiting_for_turns_and_turns_come_back() -> None:
    release = threading.Event()
    reads = ThreadPoolExecutor(8)

    def slow_prefix_search() -> str:
        release.wait(10)
        return "prefix"

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.5)
        running = [asyncio.create_task(searching.run(1, slow_prefix_search)) for _ in range(TURNS)]
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, str, "late")) for _ in range(20)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        assert await searching.run(0, str, "plain") == "plain"  # more waiting than threads: no matter
        assert time.monotonic() - began < 0.3
        for late in waiting:
            with pytest.raises(ServerBusy, match=r"no turn came within 0\.5 s"):
                await late
        release.set()
        assert await asyncio.gather(*running) == ["prefix"] * TURNS
        # Every turn given back, by searches that ended and by those refused.
        assert await asyncio.gather(*(searching.run(1, str, n) for n in range(TURNS))) == [
            str(n) for n in range(TURNS)
        ]
        assert searching._free == TURNS

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
        with pytest.raises(ServerBusy):  # 22 prefixes wait for all four turns
            await searching.run(22, str, "many")
        release.set()
        await one
        assert await searching.run(22, str, "many") == "many"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        reads.shutdown()


def test_turns_go_in_the_order_asked_so_a_big_search_is_not_passed_over_forever() -> None:
    reads = ThreadPoolExecutor(8)

    async def scenario() -> None:
        searching = Searching(reads, time_limit=3)
        stream_ended = asyncio.Event()

        async def stream() -> int:  # one-turn searches, one after another, never all four free
            done = 0
            while not stream_ended.is_set():
                await searching.run(1, time.sleep, 0.02)
                done += 1
            return done

        streams = [asyncio.create_task(stream()) for _ in range(3)]
        await asyncio.sleep(0.1)
        began = time.monotonic()
        assert await searching.run(4, str, "big") == "big"
        assert time.monotonic() - began < 1
        stream_ended.set()
        assert all(await asyncio.gather(*streams))
        assert searching._free == TURNS

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()


def test_turns_come_back_however_a_request_is_cancelled() -> None:
    """Cancelled while waiting, just as its turn came, while searching, twice: the turns all
    come back (a give-back that awaited a lock lost one when cancelled a second time)."""
    reads = ThreadPoolExecutor(8)

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        for round_ in range(40):
            tasks = [asyncio.create_task(searching.run(1 + n % 3, time.sleep, 0.01)) for n in range(12)]
            await asyncio.sleep(0.001 * (round_ % 7))
            for n, task in enumerate(tasks):
                if n % 2:
                    task.cancel()
                    if n % 4 == 1:
                        await asyncio.sleep(0)
                        task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.05)
        assert searching._free == TURNS and not searching._waiting

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()


def test_past_so_many_waiting_the_next_are_refused_at_once() -> None:
    reads = ThreadPoolExecutor(4)
    release = threading.Event()

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        held = asyncio.create_task(searching.run(4, release.wait, 10))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, str, "w")) for _ in range(MOST_WAITING)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        with pytest.raises(ServerBusy, match=f"{MOST_WAITING} heavy searches are already waiting"):
            await searching.run(1, str, "one too many")
        assert time.monotonic() - began < 0.5
        release.set()
        await held
        assert await asyncio.gather(*waiting) == ["w"] * MOST_WAITING

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
            busy = "the server is busy with other heavy searches (prefixes, NOT alone) and did not run"
            refused = await client.get("/api/v1/articles", params={"q": "dom*"})
            assert refused.status_code == 503
            assert busy in refused.json()["error"] and "no turn came within 0.2 s" in refused.json()["error"]
            page = await client.get("/", params={"q": "dom*"})
            assert page.status_code == 503 and busy in page.text
            assert 'value="dom*"' in page.text  # the form kept, to try again
            feed = await client.get("/feeds/rules/Pref.atom")
            assert feed.status_code == 503 and busy in feed.json()["error"]
            rule_page = await client.get("/rules/Pref")
            assert rule_page.status_code == 200 and busy in rule_page.text
            assert "Mentions per day" in rule_page.text
            scan = await client.get("/api/v1/articles", params={"q": "NOT budget"})
            assert scan.status_code == 503 and busy in scan.json()["error"]
            # What its parameters refuse is said at once, with no turn.
            for wrong in ({"source": "nope"}, {"since": "bad"}, {"cursor": "garbage"}):
                began = time.monotonic()
                answer = await client.get("/api/v1/articles", params={"q": "dom*", **wrong})
                assert answer.status_code == 400 and time.monotonic() - began < 0.15, answer.text
                page = await client.get("/", params={"q": "dom*", **wrong})
                assert page.status_code == 400, page.text
            # Nothing else waits for a turn.
            plain = await client.get("/api/v1/articles", params={"q": "dome"})
            assert [item["id"] for item in plain.json()["articles"]]
            assert (await client.get("/", params={"q": "iron"})).status_code == 200
            assert (await client.get("/feeds/rules/Iron Dome.atom")).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()
        archive.close()
