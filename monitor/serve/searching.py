"""Where the read side's searches run: on its own threads, within serve.search_timeout, and those
asking prefixes a few at a time.

The full-text index gathers a prefix's matches in memory, all at once (about 40 MB for `ka*` over
a million articles, in a step that cannot be interrupted): 60 clients asking `ka*` took a
server to 1.6 GB. So a search takes a turn per prefix it asks (a Hebrew prefix is eight, one per
form the index reads), at most all PREFIX_TURNS, before it goes to a thread. It waits for them
on the event loop, not on a read thread, so that searches without prefixes never queue behind
a crowd of prefix ones; up to serve.search_timeout (then SearchTooSlow), after which the search
has its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from monitor.config.settings import Settings
from monitor.errors import MonitorError, SearchTooSlow
from monitor.queries import query_of
from monitor.rules import Field, Near, Node, Not, Op, Term
from monitor.rules.text import HEBREW_PREFIXES, is_hebrew

PREFIX_TURNS = 4  # two cores gain nothing from more prefixes gathered at once
T = TypeVar("T")


class Searching:
    """The read threads and the turns of prefix searches of one server."""

    def __init__(self, reads: Executor, time_limit: float, turns: int = PREFIX_TURNS) -> None:
        self.reads, self.time_limit, self.turns = reads, time_limit, turns
        self._free = turns
        self._turn_ended = asyncio.Condition()

    async def run(self, prefixes: int, search: Callable[..., T], *arguments: Any) -> T:
        """`search(*arguments)` on a read thread, once the turns for its `prefixes` are had;
        SearchTooSlow when they do not come within the time limit."""
        wanted = min(prefixes, self.turns)
        loop = asyncio.get_running_loop()
        if not wanted:
            return await loop.run_in_executor(self.reads, search, *arguments)
        async with self._turn_ended:
            try:
                await asyncio.wait_for(
                    self._turn_ended.wait_for(lambda: self._free >= wanted), self.time_limit
                )
            except TimeoutError:
                raise SearchTooSlow(self.time_limit) from None
            self._free -= wanted
        try:
            return await loop.run_in_executor(self.reads, search, *arguments)
        finally:
            async with self._turn_ended:
                self._free += wanted
                self._turn_ended.notify_all()


def prefixes(query: Node | None) -> int:
    """The prefixes the full-text index gathers for the query (those under NOT it does not)."""
    match query:
        case Term(prefix=True, tokens=tokens):
            return 1 + len(HEBREW_PREFIXES) if is_hebrew(tokens[0]) else 1
        case Op(children=children):
            return sum(map(prefixes, children))
        case Near(left=left, right=right):
            return prefixes(left) + prefixes(right)
        case Field(child=child):
            return prefixes(child)
        case Not() | Term() | None:
            return 0


def prefixes_asked(text: str) -> int:
    """prefixes() of a query as typed; 0 for one that does not parse (its search says why)."""
    if "*" not in text:  # a prefix is written word*: most queries need no parse here
        return 0
    try:
        return prefixes(query_of(text))
    except MonitorError:
        return 0


def rule_prefixes(settings: Settings, name: str) -> int:
    """prefixes() of a watch rule's query; 0 for a name no rule has (its page says so)."""
    from monitor.app import compile_rule

    for rule in settings.watch:
        if rule.name == name:
            return prefixes(compile_rule(rule).node)
    return 0
