"""Poll outcomes are written in groups, and each poll returns only once its own is written."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from monitor.archive import FetchOutcome
from monitor.archive.sql import SqlArchive
from monitor.archive.write_groups import ArchiveWrites
from monitor.errors import ArchiveError
from monitor.models import PollResult, PollStatus
from tests.archive.helpers import NOW


class CountingArchive(SqlArchive):
    groups: list[int]
    broken = False

    def record_fetches(self, outcomes: Sequence[tuple[str, FetchOutcome]]) -> None:
        self.groups.append(len(outcomes))
        if self.broken:
            raise ArchiveError("the disk is full")
        super().record_fetches(outcomes)


def _archive(tmp_path: Path, sources: int) -> CountingArchive:
    archive = CountingArchive(f"sqlite:///{tmp_path / 'a.db'}")
    archive.groups = []
    archive.sync_sources([(f"s{i}", f"https://x.test/{i}") for i in range(sources)], NOW)
    return archive


def test_polls_ending_together_share_a_few_transactions(tmp_path: Path) -> None:
    archive = _archive(tmp_path, 300)
    records = ArchiveWrites(archive)
    outcome = FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK, "200"), etag='"v2"')

    async def polls() -> None:
        await asyncio.gather(*(records.record(f"s{i}", outcome) for i in range(300)))

    asyncio.run(polls())
    assert sum(archive.groups) == 300 and len(archive.groups) <= 3
    states = archive.source_states()
    assert {(state.last_status, state.etag) for state in states} == {
        (PollStatus(PollResult.OK, "200"), '"v2"')
    }


def test_a_failed_write_fails_every_poll_of_its_group(tmp_path: Path) -> None:
    archive = _archive(tmp_path, 3)
    archive.broken = True
    records = ArchiveWrites(archive)
    outcome = FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK, "200"))

    async def polls() -> list[BaseException | None]:
        return await asyncio.gather(
            *(records.record(f"s{i}", outcome) for i in range(3)), return_exceptions=True
        )

    results = asyncio.run(polls())
    assert all(isinstance(result, ArchiveError) for result in results)
    archive.broken = False
    asyncio.run(records.record("s0", outcome))  # the next group is written
    unwritten = archive.source_states_of(["s1"]).get("s1")
    assert unwritten is not None and unwritten.last_status is None
    state = archive.source_states_of(["s0"]).get("s0")
    assert state is not None and state.last_status == PollStatus(PollResult.OK, "200")
