"""Archive writes of polls. Fetch outcomes go in groups: the outcomes submitted while one group
is being written make the next group, written in one transaction, so two thousand polls ending
together cost a few transactions, not two thousand. Each poll still waits until its own write
is done."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from monitor.archive import Archive, FetchOutcome, OutboxRow
from monitor.models import Article

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """Calls `write` (in a thread) with the items submitted while it was busy, up to
    `group_size` items a call (a bound on one transaction's size)."""

    def __init__(self, write: Callable[[list[Item]], Result], group_size: int = 200) -> None:
        self.write = write
        self.group_size = group_size
        self.groups: deque[tuple[list[Item], asyncio.Future[Result]]] = deque()
        self.writer: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[Item]) -> Result:
        """Returns the result of writing the group the items joined; raises what that raised."""
        if not self.groups or len(self.groups[-1][0]) >= self.group_size:
            group: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
            # Read the outcome even when every submitter of the group was cancelled meanwhile.
            group.add_done_callback(lambda done: done.cancelled() or done.exception())
            self.groups.append(([], group))
        pending, group = self.groups[-1]
        pending.extend(items)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        return await asyncio.shield(group)  # a cancelled poll leaves the group's write to finish

    async def _write(self) -> None:
        while self.groups:
            batch, group = self.groups.popleft()
            try:
                result = await asyncio.to_thread(self.write, batch)
            except Exception as error:  # each submitter of the group raises it, as it would alone
                group.set_exception(error)
            else:
                group.set_result(result)


class ArchiveWrites:
    """The pipeline's archive writes: fetch outcomes in groups; new articles with their alert
    rows one poll at a time: grouped, a pass would hold many polls' articles at once, and the
    memory bound matters more than the little time grouping saves."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.outcomes = GroupWriter[tuple[str, FetchOutcome], None](archive.record_fetches)

    async def record(self, name: str, outcome: FetchOutcome) -> None:
        await self.outcomes.submit([(name, outcome)])

    async def store(self, new: Sequence[Article], outbox: Sequence[OutboxRow]) -> set[str]:
        """Store the articles not yet archived, with their alert rows; the ids of those it stored
        (another source's poll may have stored one meanwhile)."""
        if not new:
            return set()
        return await asyncio.to_thread(self.archive.store_new, new, outbox)
