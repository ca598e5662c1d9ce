"""Where the read side's searches run: on its own threads, within serve.search_timeout, and the
heavy ones a few at a time.

Two kinds of search cost far more than others, and a crowd of either starved the rest:
- a prefix: the full-text index gathers its matches in memory, all at once (about 40 MB for
  `ka*` over a million articles, in a step that cannot be interrupted): 60 clients asking `ka*`
  took a server to 1.6 GB;
- a query the index cannot narrow (`NOT budget`, `source:x`): every article is read and
  verified in turn, up to the time limit when few match; 40 clients asking such held all the
  read threads, and a quick search waited seconds for one.
So a search takes a turn for each prefix it asks (a Hebrew prefix is eight, one per form the
index reads), or one when the index cannot narrow it, at most all TURNS, before it goes to a
thread. It waits for them on the event loop, not on a read thread, so that other searches never
queue behind a crowd of heavy ones; first come, first served (a search of four prefixes is not
passed over forever by a stream of one-prefix ones); up to serve.search_timeout (then
ServerBusy), after which the search has its own. A search its parameters refuse needs no turn:
they are checked first. At most MOST_WAITING wait at once; the next are refused at once (each
waiting request holds one of uvicorn's connections, and clients gone away still wait).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from monitor.archive.search import fts_query
from monitor.config.settings import Settings
from monitor.errors import MonitorError, ServerBusy
from monitor.queries import query_of
from monitor.rules import Node

TURNS = 4  # heavy searches at once: two cores gain nothing from more
MOST_WAITING = 64  # of the server's 256 connections (serve/server.py)
T = TypeVar("T")


class Searching:
    """The read threads and the turns of heavy searches of one server."""

    def __init__(self, reads: Executor, time_limit: float, turns: int = TURNS) -> None:
        self.reads, self.time_limit, self.turns = reads, time_limit, turns
        self._free = turns
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def run(
        self, turns: int, search: Callable[..., T], *arguments: Any, check: Callable[[], object] | None = None
    ) -> T:
        """`search(*arguments)` on a read thread, once its `turns` are had (at most all);
        ServerBusy when they do not come within the time limit. `check` raises what the search
        would refuse at once (its parameters): then it needs no turn."""
        loop = asyncio.get_running_loop()
        wanted = min(turns, self.turns)
        if wanted and check is not None:
            try:
                await loop.run_in_executor(self.reads, check)
            except MonitorError:
                wanted = 0
        if not wanted:
            return await loop.run_in_executor(self.reads, search, *arguments)
        await self._take(wanted)
        try:
            return await loop.run_in_executor(self.reads, search, *arguments)
        finally:
            self._give_back(wanted)

    async def _take(self, wanted: int) -> None:
        if not self._waiting and self._free >= wanted:
            self._free -= wanted
            return
        if len(self._waiting) >= MOST_WAITING:
            raise ServerBusy(f"{MOST_WAITING} heavy searches are already waiting")
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((wanted, granted))
        try:
            await asyncio.wait_for(granted, self.time_limit)
        except BaseException as stopped:  # the time limit, or the request cancelled
            if granted.done() and not granted.cancelled():  # granted just then: give it back
                self._give_back(wanted)
            else:
                granted.cancel()
                self._grant()  # it may have held back those behind it
            if isinstance(stopped, TimeoutError):
                raise ServerBusy(f"no turn came within {self.time_limit:g} s") from None
            raise

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


def turns_needed(query: Node | None) -> int:
    """The turns a search of the query takes: one per prefix the index gathers (a Hebrew
    prefix is a phrase per prefixed form), one when the index cannot narrow it (then it gathers
    none), none for a blank query (the filters' newest articles, read in order up to the
    limit)."""
    if query is None:
        return 0
    index_query = fts_query(query)
    return 1 if index_query is None else index_query.count('"*')  # a prefix phrase: "ka"*


def turns_asked(text: str) -> int:
    """turns_needed() of a query as typed; 0 for one that does not parse (its search says why)."""
    if not any(sign in text for sign in _HEAVY_SIGNS):  # most queries need no parse here
        return 0
    try:
        return turns_needed(query_of(text))
    except MonitorError:
        return 0


# What a query needs to be heavy: a prefix (word*), a NOT (or -word), a field (source:x).
_HEAVY_SIGNS = ("*", "NOT", "-", ":")


def rule_turns(settings: Settings, name: str) -> int:
    """turns_needed() of a watch rule's query; 0 for a name no rule has (its page says so)."""
    from monitor.app import compile_rule

    for rule in settings.watch:
        if rule.name == name:
            return turns_needed(compile_rule(rule).node)
    return 0
