"""Archive writes of polls, in groups: the writes submitted while one group is being written make
the next group, written in one transaction. Two thousand polls ending together then cost a few
dozen transactions, not two thousand, and the write lock is not a queue of small transactions
each waiting for the interpreter. Each poll still waits until its own write is done."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from monitor.archive import Archive, FetchOutcome, OutboxRow
from monitor.models import Article

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """Calls `write` (in a thread) with every item submitted since its last call began."""

    def __init__(self, write: Callable[[list[Item]], Result]) -> None:
        self.write = write
        self.pending: list[Item] = []
        self.next_group: asyncio.Future[Result] | None = None
        self.writer: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[Item]) -> Result:
        """Returns the result of writing the group the items joined; raises what that raised."""
        if self.next_group is None:
            self.next_group = asyncio.get_running_loop().create_future()
            # Read the outcome even when every submitter of the group was cancelled meanwhile.
            self.next_group.add_done_callback(lambda group: group.cancelled() or group.exception())
        group = self.next_group
        self.pending.extend(items)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        return await asyncio.shield(group)  # a cancelled poll leaves the group's write to finish

    async def _write(self) -> None:
        while self.pending and self.next_group is not None:
            batch, group = self.pending, self.next_group
            self.pending, self.next_group = [], None
            try:
                result = await asyncio.to_thread(self.write, batch)
            except Exception as error:  # each submitter of the group raises it, as it would alone
                group.set_exception(error)
            else:
                group.set_result(result)


class ArchiveWrites:
    """The pipeline's grouped writes: fetch outcomes, and new articles with their alert rows."""

    def __init__(self, archive: Archive) -> None:
        self.outcomes = GroupWriter[tuple[str, FetchOutcome], None](archive.record_fetches)

        def store(items: list[tuple[object, Article | OutboxRow]]) -> dict[str, object]:
            """Stores the group; returns who submitted each stored article (its first submitter,
            when two polls brought the same one)."""
            new = [item for _, item in items if isinstance(item, Article)]
            owners: dict[str, object] = {}
            for owner, item in items:
                if isinstance(item, Article):
                    owners.setdefault(item.id, owner)
            stored = archive.store_new(new, [item for _, item in items if isinstance(item, OutboxRow)])
            return {key: owners[key] for key in stored}

        self.articles = GroupWriter[tuple[object, Article | OutboxRow], dict[str, object]](store)

    async def record(self, name: str, outcome: FetchOutcome) -> None:
        await self.outcomes.submit([(name, outcome)])

    async def store(self, new: Sequence[Article], outbox: Sequence[OutboxRow]) -> int:
        """Store the articles not yet archived, with their alert rows; how many it stored."""
        if not new:
            return 0
        me = object()
        items: list[Article | OutboxRow] = [*new, *outbox]
        stored = await self.articles.submit([(me, item) for item in items])
        return sum(1 for owner in stored.values() if owner is me)
