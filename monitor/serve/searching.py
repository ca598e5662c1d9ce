"""Where the read side's searches run: on its own threads, within serve.search_timeout, and the
heavy ones a few at a time.

Some searches cost far more than others, and a crowd of them starved the rest:
- a prefix: the full-text index gathers its matches in memory, all at once (about 40 MB for
  `ka*` over a million articles, in a step that cannot be interrupted): 60 clients asking `ka*`
  took a server to 1.6 GB;
- a search that reads many articles to find few: `NOT budget` or `source:x` (every article
  read in turn), `budget -budget` or `title:budget` (every article with the word verified), a
  filter few articles pass: 40 clients asking such held all the read threads, and a quick
  search waited seconds for one.
So heavy searches take turns, TURNS at once. A prefix's cost is known before it runs (prefixes.py): a search
takes a turn for each prefix it asks (a Hebrew prefix is one per form the index reads),
at most all, before it goes to a thread. Any other's is not (a NOT most articles pass is
quick), so it runs at once for up to TRIAL seconds of work (time_limits.work_done: its
thread's processor time, and on PostgreSQL its statements' time, the work of the server's
processes). Not time in all: a quick search slowed by a crowd does little work while its time
is stretched (5 ms became 2 s beside 60 others; on PostgreSQL, where the trial was a second in
all, such a search was stopped and waited 9-16 s for a turn behind 40 clients' heavy ones).
One that needs more is stopped and asked again when it has a turn: what a search without one
can cost is bounded, whatever its shape. A search found past TRIAL's work by two requests in a
row (once may be a crowded moment's fluke) is remembered for HEAVY_FOR seconds (the last
HEAVY_REMEMBERED of them) and waits for a turn without a trial when asked again: a crowd
repeating one heavy search spends two trials a minute, not one a request. Found light, a
search is forgotten.
Turns are waited for on the event loop, not on a read thread, so that other searches never
queue behind a crowd of heavy ones; first come, first served (a search of four prefixes is not
passed over forever by a stream of one-prefix ones); up to serve.search_timeout (then
ServerBusy), except by the first in line, whose turns come as the searches ahead end; then the
search has its limit again for itself. A search its parameters refuse needs no turn: they are
checked first. At most MOST_WAITING wait at once; the next are refused at once (each waiting
request holds one of uvicorn's connections, and clients gone away still wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from monitor.archive.time_limits import work_done
from monitor.errors import MonitorError, SearchTooSlow, ServerBusy

TURNS = 4  # heavy searches at once: two cores gain nothing from more
COUNT_TURNS = 2  # counts at once, in a line of their own (Searching.count)
# s of work: a search past it is heavy. `NOT budget` at 1M spends 5 ms alone on SQLite, up to
# 40 ms beside 31 others (their contention costs each thread processor time too).
TRIAL = 0.1
MOST_WAITING = 64  # of the server's 256 connections (serve/server.py)
HEAVY_FOR = 60.0
HEAVY_REMEMBERED = 1024
T = TypeVar("T")


class Searching:
    """The read threads and the turns of heavy searches of one server, or of its counts."""

    def __init__(
        self,
        reads: Executor,
        time_limit: float,
        turns: int = TURNS,
        counting: bool = False,
    ) -> None:
        """`counting`: the turns of counts (count()), said so when busy."""
        self.reads, self.time_limit, self.turns = reads, time_limit, turns
        self.counting = counting
        self._free = turns
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._stopping = False
        # By what makes a search the same: how many times in a row it was found heavy, when last.
        self._heavy: OrderedDict[Hashable, tuple[int, float]] = OrderedDict()

    async def run(
        self,
        turns: int,
        search: Callable[..., T],
        *arguments: Any,
        check: Callable[[], object] | None = None,
        known_as: Hashable = None,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> T:
        """`search(*arguments, time_limit=seconds, work_limit=seconds)` on a read thread: once
        it has its `turns` (a prefix's: one each; at most all), or, taking none, at once for a
        trial (above) and, if it needs more, again once it has a turn. ServerBusy when its
        turns do not come within the time limit. `check` raises what the search would refuse at
        once (its parameters): then it needs no turn. `known_as`: what makes the search the same
        when asked again (its request's query), for it to be remembered heavy. `gone`: whether
        its client has gone away, asked once it has its turns (a crowd that gave up waiting must
        not keep those behind it waiting while each runs in turn for no one)."""
        wanted = min(turns, self.turns)
        if not wanted and self._remembered_heavy(known_as):
            wanted = 1
        if wanted and check is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(self.reads, check)
            except MonitorError:
                wanted = 0
        if not wanted:
            trial = _Spent()
            try:
                answer = await self._search(trial, search, arguments, self.time_limit, TRIAL)
            except SearchTooSlow:
                if trial.wall >= self.time_limit:  # its whole time had: no second run
                    self._note(known_as, heavy=trial.seconds >= TRIAL)
                    raise
            else:
                self._note(known_as, heavy=trial.seconds >= TRIAL)
                return answer
            wanted = 1  # heavy after all: its turn, then its whole time
            try:
                await self._take(wanted)
            except ServerBusy:
                self._note(known_as, heavy=trial.seconds >= TRIAL)
                raise
        else:
            await self._take(wanted)
        await self._unless_gone(wanted, gone)
        whole = _Spent()
        try:
            running = self._search(whole, search, arguments, self.time_limit, None)
        except BaseException:  # the threads shut down with the server
            self._give_back(wanted)
            raise
        # Its turns come back when the search ends on its thread, not when the request is
        # cancelled (a thread cannot be stopped): a request counts once toward being remembered.
        running.add_done_callback(partial(self._ended, wanted, whole, known_as if not turns else None))
        return await asyncio.shield(running)

    async def count(
        self, work: Callable[..., T], *arguments: Any, gone: Callable[[], Awaitable[bool]] | None = None
    ) -> T:
        """`work(*arguments)`, which reads much of the archive with no time limit of its own
        (counts over every match of the rules: 0.1-0.7 s at a million articles), on a read
        thread once it has a turn: a crowd of them holds a few threads, not every thread
        FastAPI has (/healthz and the light routes answer on those). Counts have a Searching of
        their own (COUNT_TURNS, `counting`): a crowd of heavy searches must not keep the
        sources' and rules' health from an operator, nor counts hold searches back. ServerBusy
        and `gone` as run()."""
        return await self.run(1, partial(_without_limits, work), *arguments, gone=gone)

    def _ended(self, turns: int, spent: _Spent, known_as: Hashable, running: asyncio.Future[Any]) -> None:
        self._give_back(turns)
        self._note(known_as, heavy=spent.seconds >= TRIAL)
        if not running.cancelled():
            running.exception()  # retrieved, even when no request awaits it any more

    def stop(self) -> None:
        """The server is stopping: refuse the searches waiting and those to come, rather than
        start them (each may run its whole limit) while the server waits for its requests."""
        self._stopping = True
        for _wanted, granted in self._waiting:
            if not granted.done():
                granted.set_exception(self._busy("the server is stopping"))
        self._waiting.clear()

    def _remembered_heavy(self, known_as: Hashable) -> bool:
        times, last = self._heavy.get(known_as, (0, 0.0))
        return times >= 2 and time.monotonic() - last < HEAVY_FOR

    def _note(self, known_as: Hashable, heavy: bool) -> None:
        """Whether the search did more than TRIAL's work: once more found heavy, or
        forgotten."""
        if known_as is None:
            return
        times, last = self._heavy.pop(known_as, (0, 0.0))
        if heavy:
            fresh = time.monotonic() - last < HEAVY_FOR
            self._heavy[known_as] = (times + 1 if fresh else 1, time.monotonic())
            if len(self._heavy) > HEAVY_REMEMBERED:
                self._heavy.popitem(last=False)

    def _search(
        self,
        spent: _Spent,
        search: Callable[..., T],
        arguments: tuple[Any, ...],
        seconds: float,
        work_seconds: float | None,
    ) -> asyncio.Future[T]:
        limited = partial(_measured, spent, search, arguments, seconds, work_seconds)
        return asyncio.get_running_loop().run_in_executor(self.reads, limited)

    async def _take(self, wanted: int) -> None:
        if self._stopping:
            raise self._busy("the server is stopping")
        if not self._waiting and self._free >= wanted:
            self._free -= wanted
            return
        if len(self._waiting) >= MOST_WAITING:
            raise self._busy(f"{MOST_WAITING} are already waiting")
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((wanted, granted))
        try:
            try:
                await asyncio.wait_for(asyncio.shield(granted), self.time_limit)
            except TimeoutError:
                if not granted.done() and self._waiting[0][1] is not granted:
                    raise self._busy(f"no turn came within {self.time_limit:g} s") from None
                # First in line (or granted just then): the searches ahead end within their
                # own limit, and a search needing all four turns must not always lose the race.
                await granted
        except BaseException:  # refused, the time limit, stopping, or the request cancelled
            if granted.done() and not granted.cancelled() and granted.exception() is None:
                self._give_back(wanted)  # granted just then: give it back
            else:
                granted.cancel()
                with contextlib.suppress(ValueError):  # no longer counted among those waiting
                    self._waiting.remove((wanted, granted))
                self._grant()  # it may have held back those behind it
            raise

    async def _unless_gone(self, turns: int, gone: Callable[[], Awaitable[bool]] | None) -> None:
        """The turns given back, and ServerBusy (which no one reads), if the client has gone."""
        try:
            left = gone is not None and await gone()
        except BaseException:  # the request cancelled
            self._give_back(turns)
            raise
        if left:
            self._give_back(turns)
            raise self._busy("its client has gone away")

    def _busy(self, reason: str) -> ServerBusy:
        # Those ahead end within their limit: a turn is likely free by then.
        return ServerBusy(reason, self.counting, retry_after=self.time_limit)

    def _give_back(self, turns: int) -> None:
        """Without awaiting: a request cancelled here (twice) must not lose the turns."""
        self._free += turns
        self._grant()

    def _grant(self) -> None:
        """Turns to the waiting searches in the order they came, while the first fits."""
        while self._waiting:
            wanted, granted = self._waiting[0]
            if granted.done():  # it stopped waiting
                self._waiting.popleft()
            elif wanted <= self._free:
                self._waiting.popleft()
                self._free -= wanted
                granted.set_result(None)
            else:
                return


@dataclass
class _Spent:
    """The work a search did (time_limits.work_done), and its time on its thread in all, once
    it answered or stopped."""

    seconds: float = 0.0
    wall: float = 0.0


def _measured(
    spent: _Spent,
    search: Callable[..., T],
    arguments: tuple[Any, ...],
    seconds: float,
    work_seconds: float | None,
) -> T:
    began, began_wall = work_done(), time.monotonic()
    try:
        return search(*arguments, time_limit=seconds, work_limit=work_seconds)
    finally:
        spent.seconds, spent.wall = work_done() - began, time.monotonic() - began_wall


def retry_after(error: Exception) -> dict[str, str]:
    """The headers of a 503 for `error`: when to ask again if no turn came for it, or if it
    was stopped waiting for the processor (a second); nothing for a search stopped at its own
    limit while it worked (asked again, it would be stopped again)."""
    if isinstance(error, ServerBusy):
        return {"Retry-After": str(error.retry_after)}
    return {"Retry-After": "1"} if isinstance(error, SearchTooSlow) and error.waited else {}


def _without_limits(
    work: Callable[..., T], *arguments: Any, time_limit: float, work_limit: float | None
) -> T:
    return work(*arguments)
