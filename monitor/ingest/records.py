"""Poll outcomes, written to the archive in groups: the polls that end while one group is being
written make the next group, so two thousand polls ending together cost a few transactions and
thread hand-offs, not two thousand. Each poll still waits until its own outcome is written."""

from __future__ import annotations

import asyncio

from monitor.archive import Archive, FetchOutcome


class FetchRecords:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.pending: list[tuple[str, FetchOutcome]] = []
        self.next_group: asyncio.Future[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    async def record(self, name: str, outcome: FetchOutcome) -> None:
        """Returns once the outcome is written; raises what writing its group raised."""
        if self.next_group is None:
            self.next_group = asyncio.get_running_loop().create_future()
            # Read the outcome even when every poll of the group was cancelled meanwhile.
            self.next_group.add_done_callback(lambda group: group.cancelled() or group.exception())
        group = self.next_group
        self.pending.append((name, outcome))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        await asyncio.shield(group)  # a cancelled poll leaves the group's write to finish

    async def _write(self) -> None:
        while self.pending and self.next_group is not None:
            batch, group = self.pending, self.next_group
            self.pending, self.next_group = [], None
            try:
                await asyncio.to_thread(self.archive.record_fetches, batch)
            except Exception as error:  # each poll of the group raises it, as it would alone
                group.set_exception(error)
            else:
                group.set_result(None)
