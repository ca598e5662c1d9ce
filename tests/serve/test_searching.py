"""The read side's searches: heavy ones take turns, waiting on the event loop, so that the rest
never queue behind them for a thread; a prefix is heavy before it runs, any other search once it
runs past TRIAL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from monitor.archive import SearchFilters, pg_search, search_sql
from monitor.archive.search_sql import ArticleRow
from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.errors import SearchTooSlow, ServerBusy
from monitor.metrics import Metrics
from monitor.models import ArchivedArticle
from monitor.rules import parse_query
from monitor.rules.match import Evaluator
from monitor.serve import api
from monitor.serve import searching as searching_module
from monitor.serve.api import build_api
from monitor.serve.prefixes import prefixes_asked, prefixes_gathered
from monitor.serve.searching import (
    MOST_WAITING,
    TRIAL,
    TURNS,
    Searching,
    retry_after,
)
from monitor.serve.web import Protections
from tests.archive.helpers import NOW, archive_of, make_article
from tests.configs import monitor_config
from tests.serve.conftest import archive_with_articles


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ka*", 1),
        ("ka* OR lo* OR dome", 2),
        ("dome NOT ka*", 1),  # the index leaves out ka*'s matches: it gathers them (SQLite)
        ("dome NOT title:ka*", 0),  # under title: the matcher's, verified, not gathered
        ("NOT lo*", 1),  # the index leaves out lo*'s matches of every article: it gathers them
        ("NOT lo* AND NOT ka*", 2),
        ("NOT lo* OR dome", 0),  # every article a candidate, each verified
        ("title:ka* NEAR/3 lo*", 2),
        ("כיפ*", 30),  # the index reads it with each run of Hebrew prefixes too (29)
        ('"ka lo"', 0),
        ("dome", 0),
        ("T-Dome", 0),
        ("NOT budget", 0),  # the index cannot narrow it: read in turn, heavy only if slow
        ("source:Harbor", 0),
        ("ka* OR NOT budget", 0),  # a scan: no prefix gathered
        ("(lo* OR NOT x) AND dome", 0),  # the index narrows to dome alone
    ],
)
def test_the_prefixes_a_query_gathers(query: str, expected: int) -> None:
    assert prefixes_gathered(parse_query(query)) == expected == prefixes_asked(query)


def test_a_blank_or_broken_query_gathers_none() -> None:
    assert prefixes_gathered(None) == prefixes_asked("  ") == prefixes_asked("ka* AND (") == 0


# Searches as Searching.run calls them, with a time limit and a work limit.
def _echo(value: object, *, time_limit: float, work_limit: float | None) -> object:
    return value


def _sleep(seconds: float, *, time_limit: float, work_limit: float | None) -> str:
    time.sleep(seconds)
    return "slept"


def _wait(event: threading.Event, seconds: float, *, time_limit: float, work_limit: float | None) -> bool:
    return event.wait(seconds)


def _spend(seconds: float) -> None:
    """Spend that much of the processor, as a search verifying articles does."""
    began = time.thread_time()
    while time.thread_time() - began < seconds:
        pass


class _Heavy:
    """A search that needs more than a trial's processor time (`light_after_all`: only in its
    trial, as on a thread's first read), or (`waits`) all its time without working, and says
    which limits it was given."""

    def __init__(self, waits: bool = False, light_after_all: bool = False) -> None:
        self.waits, self.light_after_all = waits, light_after_all
        self.limits = list[tuple[float, float | None]]()

    def __call__(self, *, time_limit: float, work_limit: float | None) -> str:
        self.limits.append((time_limit, work_limit))
        if self.waits:
            time.sleep(time_limit)
            raise SearchTooSlow(time_limit)
        if work_limit is not None:
            _spend(work_limit)
            raise SearchTooSlow(time_limit)
        if not self.light_after_all:
            _spend(TRIAL)
        return "found"


@pytest.fixture
def reads() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(8)
    yield pool
    pool.shutdown()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end, so that no search waiting on it outlives its test."""
    event = threading.Event()
    yield event
    event.set()


def test_a_search_past_its_trial_is_asked_again_once_it_has_a_turn(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        assert await searching.run(0, _echo, "quick") == "quick"
        slow = _Heavy()
        assert await searching.run(0, slow) == "found" and slow.limits == [(5, TRIAL), (5, None)]
        # Every turn held: a quick search still runs at once; a slow one waits for its turn.
        held = asyncio.create_task(searching.run(TURNS, _wait, release, 10))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(searching.run(0, _Heavy()))
        # Its trial first spends TRIAL of its thread's processor time: longer on a busy machine.
        for _ in range(500):
            if searching._waiting or waiting.done():
                break
            await asyncio.sleep(0.01)
        assert not waiting.done() and len(searching._waiting) == 1
        assert await searching.run(0, _echo, "quick") == "quick"
        release.set()
        assert await waiting == "found" and await held
        assert searching._free == TURNS
        # Found heavy by two requests in a row, a search waits for its turn without a trial
        # when asked again; others still have one.
        first, second, again, other = _Heavy(), _Heavy(), _Heavy(), _Heavy()
        for each in (first, second, again):
            assert await searching.run(0, each, known_as="q=budget -budget") == "found"
        assert await searching.run(0, other, known_as="q=other") == "found"
        assert first.limits == second.limits == other.limits == [(5, TRIAL), (5, None)]
        assert again.limits == [(5, None)]
        # One found heavy in its trial but not with its turn is not remembered.
        assert await searching.run(0, _Heavy(light_after_all=True), known_as="q=fluke") == "found"
        assert await searching.run(0, _echo, "light", known_as="q=fluke") == "light"
        assert "q=fluke" not in searching._heavy and "q=other" in searching._heavy
        # Remembered for HEAVY_FOR seconds: then it has its trial again.
        later = _Heavy()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(searching_module, "HEAVY_FOR", 0.05)
            await asyncio.sleep(0.06)
            assert await searching.run(0, later, known_as="q=budget -budget") == "found"
        assert later.limits == [(5, TRIAL), (5, None)]
        # Stopped at its whole limit spending little of the processor: too slow, no second try
        # (said with the limit set, not the trial's).
        short = _Heavy(waits=True)
        with pytest.raises(SearchTooSlow, match=r"longer than 0\.05 s") as stopped:
            await Searching(reads, time_limit=0.05).run(0, short)
        assert not isinstance(stopped.value, ServerBusy) and short.limits == [(0.05, TRIAL)]

    asyncio.run(scenario())


def test_a_search_cancelled_while_it_runs_holds_its_turn_until_its_thread_ends(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:
    """A thread cannot be stopped: given back at the cancel, the turn let a fifth heavy search run."""

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        running = asyncio.create_task(searching.run(1, _wait, release, 10))
        await asyncio.sleep(0.05)
        running.cancel()
        await asyncio.sleep(0.05)
        assert running.cancelled() and searching._free == TURNS - 1
        release.set()
        await asyncio.sleep(0.05)
        assert searching._free == TURNS

    asyncio.run(scenario())


def test_those_who_stopped_waiting_are_not_counted_among_the_waiting(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:
    """Found by a review: clients that had given up still filled the line, and the next were
    told that 64 heavy searches were already waiting."""

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.2)
        held = asyncio.create_task(searching.run(TURNS, _wait, release, 10))
        await asyncio.sleep(0.05)
        first = asyncio.create_task(searching.run(1, _echo, "first"))
        await asyncio.sleep(0.01)
        behind = [asyncio.create_task(searching.run(1, _echo, n)) for n in range(10)]
        for each in behind:
            with pytest.raises(ServerBusy):
                await each
        assert len(searching._waiting) == 1  # the first in line alone
        release.set()
        assert await first == "first" and await held

    asyncio.run(scenario())


def test_one_heavy_moment_is_not_enough_to_be_remembered(reads: ThreadPoolExecutor) -> None:
    """A quick search may spend ten times its processor time beside a crowd: found heavy once,
    it still has its trial; twice in a row, it waits for a turn without one; light, forgotten."""
    searching = Searching(reads, time_limit=5)
    searching._note("q=NOT budget", heavy=True)
    assert not searching._remembered_heavy("q=NOT budget")
    searching._note("q=NOT budget", heavy=False)
    searching._note("q=NOT budget", heavy=True)
    assert not searching._remembered_heavy("q=NOT budget")
    searching._note("q=NOT budget", heavy=True)
    assert searching._remembered_heavy("q=NOT budget")
    searching._note("q=NOT budget", heavy=False)
    assert not searching._remembered_heavy("q=NOT budget") and not searching._heavy


def test_a_trial_waiting_without_working_is_not_stopped(reads: ThreadPoolExecutor) -> None:
    """Beside a crowd a quick search waits for the processor far longer than it works: on
    PostgreSQL, whose trial was a second in all, one such was stopped and waited 9-16 s for a
    turn behind 40 clients' heavy searches. A trial is bounded by its work alone."""

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        slowed = _Slowed(TRIAL * 3)
        assert await searching.run(0, slowed, known_as="q=budget") == "found"
        assert slowed.limits == [(5, TRIAL)] and "q=budget" not in searching._heavy

    asyncio.run(scenario())


def test_on_postgresql_a_search_slowed_without_working_answers_in_its_trial(
    reads: ThreadPoolExecutor, postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A real search on PostgreSQL whose thread waits (here 6 ms before each article it
    verifies, as for the interpreter beside a crowd) for longer than a second in all, doing
    little: answered in its trial, where it was stopped at a second and asked again in turn."""
    with archive_of(request, tmp_path, "postgresql") as archive:
        stamps = [NOW + timedelta(minutes=n) for n in range(300)]
        titles = ["Harbor report" if n % 3 == 0 else "Coast report" for n in range(300)]
        archive.store_new(
            [make_article(f"a{n}", title=titles[n], published=stamps[n], hits=()) for n in range(300)], []
        )
        verified = search_sql.verifies

        def slowed(query: Evaluator, article: ArticleRow) -> bool:
            time.sleep(0.006)
            return verified(query, article)

        calls = list[tuple[float, float | None]]()

        def search(*, time_limit: float, work_limit: float | None) -> list[ArchivedArticle]:
            calls.append((time_limit, work_limit))
            query, filters = parse_query("NOT title:coast"), SearchFilters(limit=70)
            return archive.search(query, filters, time_limit, work_limit)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pg_search, "verifies", slowed)
            began = time.monotonic()
            found = asyncio.run(Searching(reads, time_limit=20).run(0, search))
        assert time.monotonic() - began > 1.0  # as long as the trial once was
        assert [item.article.title for item in found] == ["Harbor report"] * 70
        assert calls == [(20, TRIAL)]


def test_on_postgresql_a_quick_search_beside_busy_threads_is_not_judged_heavy(
    reads: ThreadPoolExecutor, postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Found by a review: a statement's time as seen from here holds the thread's wait for the
    interpreter once the server has answered. Counted whole, a search of 1 ms beside 8 busy
    threads did 0.1-0.45 s of work, was judged heavy and waited for a turn (503 when none came)."""
    with archive_of(request, tmp_path, "postgresql") as archive:
        archive.store_new(
            [make_article(f"a{n}", published=NOW + timedelta(minutes=n), hits=()) for n in range(200)], []
        )

        def search(*, time_limit: float, work_limit: float | None) -> list[ArchivedArticle]:
            return archive.search(parse_query("iron"), SearchFilters(limit=50), time_limit, work_limit)

        async def scenario() -> None:
            searching = Searching(reads, time_limit=10)
            for _ in range(10):
                assert len(await searching.run(0, search, known_as="q=iron")) == 50
                assert "q=iron" not in searching._heavy

        stop = threading.Event()

        def busy() -> None:
            while not stop.is_set():
                sum(range(10_000))

        crowd = [threading.Thread(target=busy) for _ in range(8)]
        for thread in crowd:
            thread.start()
        try:
            asyncio.run(scenario())
        finally:
            stop.set()
            for thread in crowd:
                thread.join()


class _Slowed:
    """A search waiting `seconds` (for the processor, the database's answer) with little work."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.limits = list[tuple[float, float | None]]()

    def __call__(self, *, time_limit: float, work_limit: float | None) -> str:
        self.limits.append((time_limit, work_limit))
        time.sleep(self.seconds)
        return "found"


def test_the_first_in_line_waits_on_past_the_limit_for_searches_that_overrun_it(
    reads: ThreadPoolExecutor,
) -> None:
    """Searches overrun their limit a little (a step SQLite cannot stop): a search needing all
    four turns, waiting as long as the limit, lost every race to the last of them to end."""

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.2)
        overrunning = [asyncio.create_task(searching.run(1, _sleep, 0.4)) for _ in range(TURNS)]
        await asyncio.sleep(0.05)
        big = asyncio.create_task(searching.run(TURNS, _echo, "big"))
        await asyncio.sleep(0.01)
        with pytest.raises(ServerBusy, match=r"no turn came within 0\.2 s"):
            await searching.run(1, _echo, "behind it")
        assert await big == "big"
        assert await asyncio.gather(*overrunning) == ["slept"] * TURNS
        assert searching._free == TURNS

    asyncio.run(scenario())


def test_a_stopping_server_refuses_the_heavy_searches_waiting_and_to_come(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:

    async def scenario() -> None:
        searching = Searching(reads, time_limit=10)
        held = asyncio.create_task(searching.run(TURNS, _wait, release, 10))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, _echo, n)) for n in range(3)]
        await asyncio.sleep(0.05)
        searching.stop()
        for each in waiting:
            with pytest.raises(ServerBusy, match="the server is stopping"):
                await each
        with pytest.raises(ServerBusy, match="the server is stopping"):
            await searching.run(1, _echo, "late")
        assert await searching.run(0, _echo, "quick") == "quick"  # its requests still answered
        release.set()
        assert await held
        assert searching._free == TURNS

    asyncio.run(scenario())


def test_plain_searches_pass_a_crowd_waiting_for_turns_and_turns_come_back(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:

    def slow_prefix_search(*, time_limit: float, work_limit: float | None) -> str:
        release.wait(10)
        return "prefix"

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.5)
        running = [asyncio.create_task(searching.run(1, slow_prefix_search)) for _ in range(TURNS)]
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, _echo, "late")) for _ in range(20)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        assert await searching.run(0, _echo, "plain") == "plain"  # more waiting than threads: no matter
        assert time.monotonic() - began < 0.3
        for late in waiting[1:]:
            with pytest.raises(ServerBusy, match=r"no turn came within 0\.5 s"):
                await late
        assert not waiting[0].done()  # the first in line waits on: its turn comes as one ends
        release.set()
        assert await asyncio.gather(*running) == ["prefix"] * TURNS
        assert await waiting[0] == "late"
        # Every turn given back, by searches that ended and by those refused.
        assert await asyncio.gather(*(searching.run(1, _echo, n) for n in range(TURNS))) == list(range(TURNS))
        assert searching._free == TURNS

    asyncio.run(scenario())


def test_a_search_of_many_prefixes_takes_every_turn(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:

    async def scenario() -> None:
        searching = Searching(reads, time_limit=0.3)
        one = asyncio.create_task(searching.run(1, _wait, release, 10))
        await asyncio.sleep(0.05)
        assert await searching.run(3, _echo, "three") == "three"  # the other three turns
        waiting = asyncio.create_task(searching.run(TURNS, _echo, "first in line"))
        await asyncio.sleep(0.05)
        with pytest.raises(ServerBusy):  # 22 prefixes wait for all four turns, behind it
            await searching.run(22, _echo, "many")
        release.set()
        await one
        assert await waiting == "first in line"
        assert await searching.run(22, _echo, "many") == "many"

    asyncio.run(scenario())


def test_turns_go_in_the_order_asked_so_a_big_search_is_not_passed_over_forever(
    reads: ThreadPoolExecutor,
) -> None:

    async def scenario() -> None:
        searching = Searching(reads, time_limit=3)
        stream_ended = asyncio.Event()

        async def stream() -> int:  # one-turn searches, one after another, never all four free
            done = 0
            while not stream_ended.is_set():
                await searching.run(1, _sleep, 0.02)
                done += 1
            return done

        streams = [asyncio.create_task(stream()) for _ in range(3)]
        await asyncio.sleep(0.1)
        began = time.monotonic()
        assert await searching.run(4, _echo, "big") == "big"
        assert time.monotonic() - began < 1
        stream_ended.set()
        assert all(await asyncio.gather(*streams))
        assert searching._free == TURNS

    asyncio.run(scenario())


def test_turns_come_back_however_a_request_is_cancelled(reads: ThreadPoolExecutor) -> None:
    """Cancelled while waiting, just as its turn came, while searching, twice: the turns all
    come back (a give-back that awaited a lock lost one when cancelled a second time)."""

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        for round_ in range(40):
            tasks = [asyncio.create_task(searching.run(1 + n % 3, _sleep, 0.01)) for n in range(12)]
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

    asyncio.run(scenario())


def test_a_request_whose_client_has_gone_gives_its_turn_back_unrun(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:
    """A crowd that gave up waiting: each would run in turn for no one, keeping those behind
    it waiting (64 abandoned counts kept the rules' view waiting 10 s)."""
    ran: list[object] = []

    def noted(value: object, **limits: float | None) -> object:  # a count is given none
        ran.append(value)
        return value

    async def left() -> bool:
        return True

    async def there() -> bool:
        return False

    async def never_says() -> bool:
        await asyncio.sleep(60)
        return False

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5, turns=1)
        held = asyncio.create_task(searching.run(1, _wait, release, 10))
        await asyncio.sleep(0.05)
        abandoned = [asyncio.create_task(searching.run(1, noted, n, gone=left)) for n in range(5)]
        kept = asyncio.create_task(searching.count(noted, "kept", gone=there))
        await asyncio.sleep(0.05)
        assert len(searching._waiting) == 6
        release.set()
        assert await held
        for task in abandoned:
            with pytest.raises(ServerBusy, match="its client has gone away"):
                await task
        assert await kept == "kept" and ran == ["kept"]
        # Cancelled while asking whether its client is there: the turn comes back too.
        asking = asyncio.create_task(searching.run(1, noted, "never", gone=never_says))
        await asyncio.sleep(0.05)
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        await asyncio.sleep(0.05)
        assert searching._free == 1 and not searching._waiting and ran == ["kept"]

    asyncio.run(scenario())


def test_past_so_many_waiting_the_next_are_refused_at_once(
    reads: ThreadPoolExecutor, release: threading.Event
) -> None:

    async def scenario() -> None:
        searching = Searching(reads, time_limit=5)
        held = asyncio.create_task(searching.run(4, _wait, release, 10))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(searching.run(1, _echo, "w")) for _ in range(MOST_WAITING)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        with pytest.raises(ServerBusy, match=f"{MOST_WAITING} are already waiting"):
            await searching.run(1, _echo, "one too many")
        assert time.monotonic() - began < 0.5
        release.set()
        await held
        assert await asyncio.gather(*waiting) == ["w"] * MOST_WAITING

    asyncio.run(scenario())


class _NoTurnFree(Searching):
    """Every turn held and others first in line, as in a crowd of slow prefix searches."""

    async def _take(self, wanted: int) -> None:
        raise ServerBusy(f"no turn came within {self.time_limit:g} s", self.counting)


def test_counts_take_turns_of_their_own_so_heavy_searches_do_not_hold_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive_with_articles(tmp_path)
    watch: list[dict[str, Any]] = [{"name": "Pref", "query": "dom*"}]
    settings = load_settings(monitor_config(tmp_path, watch=watch, serve={"search_timeout": "200ms"}))
    archive = SqlArchive(settings.database_url())

    def searches_busy(*arguments: Any, **named: Any) -> Searching:
        return (Searching if named.get("counting") else _NoTurnFree)(*arguments, **named)

    monkeypatch.setattr(api, "Searching", searches_busy)
    reads = ThreadPoolExecutor(4)
    app = Protections(build_api(archive, settings, Metrics(), reads), [])

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            assert (await client.get("/api/v1/articles", params={"q": "dom*"})).status_code == 503
            for counting in ("/api/v1/rules", "/api/v1/sources", "/api/v1/stats/mentions", "/sources"):
                assert (await client.get(counting)).status_code == 200, counting
            assert "<h1>Watch rules</h1>" in (await client.get("/rules")).text

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()
        archive.close()


def test_a_search_with_no_turn_within_its_limit_is_said_where_it_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive_with_articles(tmp_path)
    watch: list[dict[str, Any]] = [
        {"name": "Pref", "query": "dom*"},
        {"name": "Iron Dome", "terms": ["Iron Dome"]},
        {"name": "Dome", "terms": ["dome"]},
    ]
    settings = load_settings(monitor_config(tmp_path, watch=watch, serve={"search_timeout": "200ms"}))
    archive = SqlArchive(settings.database_url())
    monkeypatch.setattr(api, "Searching", _NoTurnFree)
    reads = ThreadPoolExecutor(4)
    app = Protections(build_api(archive, settings, Metrics(), reads), [])

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            busy = "the server is busy with other heavy searches (prefixes, or searches reading many"
            refused = await client.get("/api/v1/articles", params={"q": "dom*"})
            assert refused.status_code == 503
            assert busy in refused.json()["error"] and "no turn came within 0.2 s" in refused.json()["error"]
            assert refused.headers["retry-after"] == "1"  # the limit, in whole seconds
            page = await client.get("/", params={"q": "dom*"})
            assert page.status_code == 503 and busy in page.text and page.headers["retry-after"] == "1"
            assert 'value="dom*"' in page.text  # the form kept, to try again
            feed = await client.get("/feeds/rules/Pref.atom")  # the matches stored, no search: no turn
            assert feed.status_code == 200 and "<feed" in feed.text
            rule_page = await client.get("/rules/Pref")  # heavy whatever its query: counts, chart
            assert (
                rule_page.status_code == 503 and busy in rule_page.text and "retry-after" in rule_page.headers
            )
            assert "<h1>Watch rule Pref</h1>" in rule_page.text and 'href="/rules/Pref"' in rule_page.text
            assert "narrow" not in rule_page.text  # its reader has no query to narrow
            assert "or narrow it" in page.text  # the search page's reader has
            assert (await client.get("/rules/Dome")).status_code == 503
            # So are the routes counting every match or source, which no time limit bounds...
            counts_busy = "the server is busy with counting for other requests (the rules' matches"
            for counting in ("/api/v1/rules", "/api/v1/sources", "/api/v1/stats/mentions", "/api/v1/alerts"):
                answer = await client.get(counting)
                assert answer.status_code == 503 and counts_busy in answer.json()["error"], counting
                assert answer.headers["retry-after"] == "1", counting
            for counting, title in (
                ("/rules", "Watch rules"),
                ("/sources", "Sources"),
                ("/alerts", "Alerts"),
            ):
                answer = await client.get(counting)
                assert answer.status_code == 503 and escape(counts_busy) in answer.text, counting
                assert answer.headers["retry-after"] == "1", counting
                assert f"<h1>{title}</h1>" in answer.text and f'href="{counting}">Try again' in answer.text
            # ...but what their parameters refuse is said at once, with no turn.
            for wrong, said in (
                ({"interval": "hour"}, "interval 'hour'"),
                ({"since": "2026-02-01", "until": "2026-01-01"}, "since is not before until"),
                ({"rule": "Nope"}, "Nope"),
            ):
                answer = await client.get("/api/v1/stats/mentions", params=wrong)
                assert answer.status_code == 400 and said in answer.json()["error"], answer.text
            # ...while the light ones answer: they never wait behind a crowd of counts.
            for light in ("/healthz", "/api/v1/articles/dome", "/metrics"):
                assert (await client.get(light)).status_code == 200, light
            # A search without prefixes needs no turn while it is quick (a NOT most pass)...
            scan = await client.get("/api/v1/articles", params={"q": "NOT budget"})
            assert scan.status_code == 200 and scan.json()["articles"]
            # ...and one when it runs past TRIAL.
            monkeypatch.setattr(searching_module, "TRIAL", 0)
            for path in ("/api/v1/articles", "/"):
                slow = await client.get(path, params={"q": "dome NOT ka"})
                assert slow.status_code == 503 and busy in slow.text
            for _ in range(2):  # a feed reads the rule's stored matches: never heavy
                assert (await client.get("/feeds/rules/Iron Dome.json")).status_code == 200
            for junk in ("1", "2"):  # a parameter that is not the search's makes no other search
                slow = await client.get("/api/v1/articles", params={"q": "dome -ka", "token": junk})
                assert slow.status_code == 503
            monkeypatch.setattr(searching_module, "TRIAL", TRIAL)
            # Found heavy twice in a row, it waits for a turn at once, with no trial.
            remembered = await client.get("/api/v1/articles", params={"q": "dome -ka", "token": "3"})
            assert remembered.status_code == 503 and busy in remembered.text
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
            assert (await client.get("/feeds/rules/Dome.atom")).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        reads.shutdown()
        archive.close()


def test_a_search_stopped_waiting_for_the_processor_is_asked_again_in_a_second() -> None:
    """Found by a review: its 503 had no Retry-After, though asking again may well find the
    server free; one stopped working on the query has none (it would be stopped again)."""
    assert retry_after(SearchTooSlow(10.0, "busy", waited=True)) == {"Retry-After": "1"}
    assert retry_after(SearchTooSlow(10.0)) == {}
