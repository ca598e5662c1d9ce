"""Who may fetch and read now: a global bound on fetches at once, a per-host bound with a start
gap, and turns for large bodies (see client.py's docstring for why large bodies take turns)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from monitor.errors import FetchError
from monitor.runtime.arenas import release_free_memory

LARGE_BODY = 1024 * 1024
LARGE_AT_ONCE = 1  # parsing is CPU-bound: a second at once would add memory, not speed
HEAVY_AT_ONCE = 2  # polls of a large feed body, from its read to the poll's end (see client.py)
# A heavy turn's holders are polls, which end; the bound only turns an unforeseen wait-for cycle
# into an error instead of a hang.
HEAVY_WAIT_DEADLINES = 10


class HostGate:
    """At most `per_host` requests to one host at once, started at least `gap` seconds apart."""

    def __init__(self, per_host: int, gap: float) -> None:
        self.per_host = per_host
        self.gap = gap
        self.by_host: dict[str, asyncio.Semaphore] = {}
        self.next_start: dict[str, float] = {}

    async def acquire(self, url: str) -> asyncio.Semaphore:
        """Wait for a slot of the URL's host and its start gap; returns the semaphore to release."""
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self.by_host.setdefault(host, asyncio.Semaphore(self.per_host))
        await semaphore.acquire()
        try:
            loop = asyncio.get_running_loop()
            start = max(loop.time(), self.next_start.get(host, 0.0))
            self.next_start[host] = start + self.gap
            await asyncio.sleep(start - loop.time())
        except BaseException:
            semaphore.release()
            raise
        return semaphore


@dataclass(slots=True)
class FetchSlots:
    """The fetcher's bounds: `fetches` at once, per host, large bodies read at once (with a
    bound on how many wait), and heavy polls at once; `deadline` is one request's, in seconds."""

    deadline: float
    concurrency: int
    hosts: HostGate
    fetches: asyncio.Semaphore = field(init=False)
    large: asyncio.Semaphore = field(init=False)
    large_waiting: asyncio.Semaphore = field(init=False)
    heavy: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.fetches = asyncio.Semaphore(self.concurrency)
        self.large = asyncio.Semaphore(LARGE_AT_ONCE)
        self.large_waiting = asyncio.Semaphore(self.concurrency)
        self.heavy = asyncio.Semaphore(HEAVY_AT_ONCE)

    @classmethod
    def bounded(cls, deadline: timedelta, concurrency: int, per_host: int, host_gap: timedelta) -> FetchSlots:
        return cls(deadline.total_seconds(), concurrency, HostGate(per_host, host_gap.total_seconds()))


class LargeTurn:
    """A fetch's claim on one of the fetcher's large-body slots, taken once and kept by `stack`;
    while waiting for it, the fetch gives its fetch slot back."""

    def __init__(
        self, slots: FetchSlots, url: str, stack: AsyncExitStack, poll_scope: AsyncExitStack | None
    ) -> None:
        self.slots, self.url, self.stack, self.poll_scope = slots, url, stack, poll_scope
        self.deadline: asyncio.Timeout | None = None
        self.taken = False
        self.holds_fetch_slot = True
        self.host_slot: asyncio.Semaphore | None = None

    def give_back_slots(self) -> None:
        """Let go of the fetch slot and the host's slot: a waiting fetch reads nothing, and the
        turn's holders may need both (a heavy poll fetches its pages, often from that host)."""
        if self.holds_fetch_slot:
            self.holds_fetch_slot = False
            self.slots.fetches.release()
        host_slot, self.host_slot = self.host_slot, None
        if host_slot is not None:
            host_slot.release()

    async def take(self) -> None:
        """Wait for the slot, the request's deadline stopped meanwhile, the fetch and host slots
        given back. A source's own body first waits for a heavy turn: its holders are polls,
        which end. The slot itself is waited for one deadline at most, so that a slow server
        holding it (until its own deadline) can stall the fetches queued behind it only that
        long."""
        if self.taken:
            return
        assert self.deadline is not None, "take() runs inside the request's deadline"
        loop = asyncio.get_running_loop()
        waited_from, when = loop.time(), self.deadline.when()
        self.deadline.reschedule(None)  # waiting is not the server's slowness: the clock stops
        self.stack.callback(release_free_memory)  # last, once the body's parsing is done
        try:
            if self.poll_scope is not None:
                # Without a waiting ticket: the tickets are for the slot, and a heavy poll's page
                # needs one (waiters for a heavy turn are polls in flight, bounded by the pipeline).
                self.give_back_slots()
                async with asyncio.timeout(HEAVY_WAIT_DEADLINES * self.slots.deadline):
                    await self.poll_scope.enter_async_context(self.slots.heavy)
            async with asyncio.timeout(self.slots.deadline):
                async with self.slots.large_waiting:  # at most `concurrency` fetches wait so
                    self.give_back_slots()
                    await self.stack.enter_async_context(self.slots.large)
        except TimeoutError:
            raise FetchError(
                self.url,
                "waited too long for its turn to read a large body (one at a time); "
                "it is tried again at the next poll",
            ) from None
        self.taken = True
        if when is not None:
            self.deadline.reschedule(when + loop.time() - waited_from)
