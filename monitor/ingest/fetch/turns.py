"""Who may fetch and read now: a global bound on fetches at once, a per-host bound with a start
gap (shared by every daemon of an archive several use), and turns for large bodies (see
client.py's docstring for why large bodies take turns)."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from monitor.archive import HostTurn, HostTurns
from monitor.errors import ArchiveError, FetchError
from monitor.runtime.arenas import release_free_memory

log = logging.getLogger(__name__)
LARGE_BODY = 1024 * 1024
LARGE_AT_ONCE = 1  # parsing is CPU-bound: a second at once would add memory, not speed
HEAVY_AT_ONCE = 2  # polls of a large feed body, from its read to the poll's end (see client.py)
# A heavy turn's holders are polls, which end; the bound only turns an unforeseen wait-for cycle
# into an error instead of a hang.
HEAVY_WAIT_DEADLINES = 10


SHARED_RETRY = 0.1  # seconds between asks for a slot every daemon holds (with jitter)


class HostSlot:
    """A request's slot at its host: this process's, and the one shared by every daemon of the
    archive when there is one. Released by the fetch, from the event loop."""

    def __init__(
        self, semaphore: asyncio.Semaphore, turn: HostTurn | None = None, shared: HostTurns | None = None
    ) -> None:
        self.semaphore, self.turn, self.shared = semaphore, turn, shared

    def release(self) -> None:
        self.semaphore.release()
        if self.turn is not None and self.shared is not None:
            turn, self.turn = self.turn, None
            # A write to the database: off the event loop, and nothing waits for it.
            asyncio.get_running_loop().run_in_executor(None, self.shared.release, turn)


class HostGate:
    """At most `per_host` requests to one host at once, started at least `gap` seconds apart:
    in this process, and, with `shared` (an archive several daemons use), across all of them.
    A shared slot is held for `hold` seconds at most, so a daemon that dies frees its slots."""

    def __init__(
        self, per_host: int, gap: float, shared: HostTurns | None = None, hold: float = 60.0
    ) -> None:
        self.per_host = per_host
        self.gap = gap
        self.shared = shared
        self.hold = hold
        self.by_host: dict[str, asyncio.Semaphore] = {}
        self.next_start: dict[str, float] = {}
        self.shared_failing = False  # the archive failed to give a turn: this process's gate only

    async def acquire(self, url: str) -> HostSlot:
        """Wait for a slot of the URL's host and its start gap; returns the slot to release."""
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self.by_host.setdefault(host, asyncio.Semaphore(self.per_host))
        await semaphore.acquire()
        slot = HostSlot(semaphore)
        try:
            loop = asyncio.get_running_loop()
            if self.shared is not None:
                slot.turn, slot.shared = await self._shared_turn(host), self.shared
            if slot.turn is not None:
                # The archive reserved the start, counting this process's requests as well: a
                # gap of this process's own on top would start it later than reserved, where
                # another daemon's reservation may begin. So would counting the wait from when
                # this loop read the answer (late, on a busy loop) rather than from the answer.
                start = slot.turn.start
            else:
                start = max(loop.time(), self.next_start.get(host, 0.0))
                self.next_start[host] = start + self.gap
            await asyncio.sleep(start - loop.time())
        except BaseException:
            slot.release()
            raise
        return slot

    async def _shared_turn(self, host: str) -> HostTurn | None:
        """A slot every daemon of the archive counts, waited for; None when the archive cannot
        give one (the failure is logged once, and this process's gate goes on alone)."""
        assert self.shared is not None
        gap, hold = timedelta(seconds=self.gap), timedelta(seconds=self.hold)
        while True:
            try:
                turn = await asyncio.to_thread(self.shared.take, host, self.per_host, gap, hold)
            except ArchiveError as error:
                if not self.shared_failing:
                    log.warning("per-host turns are this daemon's own until the archive answers: %s", error)
                self.shared_failing = True
                return None
            self.shared_failing = False
            if turn is not None:
                return turn
            await asyncio.sleep(SHARED_RETRY * (0.5 + random.random()))


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
    def bounded(
        cls,
        deadline: timedelta,
        concurrency: int,
        per_host: int,
        host_gap: timedelta,
        shared: HostTurns | None = None,
    ) -> FetchSlots:
        # A shared slot outlives its request's deadline (a large body's wait for its turn stops
        # the clock), but not by much: a dead daemon's slots come back soon.
        hold = 2 * deadline.total_seconds() + 30
        return cls(
            deadline.total_seconds(), concurrency, HostGate(per_host, host_gap.total_seconds(), shared, hold)
        )


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
        self.host_slot: HostSlot | None = None

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
