"""Per-host politeness shared through a PostgreSQL archive: slots per host across daemons, the
gap between starts, and holds that lapse when a daemon dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.archive import HostTurn, HostTurns
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive
from monitor.ingest.fetch.turns import HostGate

HOLD = timedelta(minutes=1)


@pytest.fixture
def daemons(postgres_url: str, postgres_schema: str) -> Iterator[tuple[PostgresArchive, PostgresArchive]]:
    """Two daemons' archives on one database."""
    first = PostgresArchive(postgres_url, schema=postgres_schema)
    second = PostgresArchive(postgres_url, schema=postgres_schema)
    yield first, second
    first.close()
    second.close()


def test_a_hosts_slots_are_shared_by_every_daemon(daemons: tuple[PostgresArchive, PostgresArchive]) -> None:
    one, two = (archive.host_turns for archive in daemons)
    first = one.take("news.test", 2, timedelta(0), HOLD)
    second = two.take("news.test", 2, timedelta(0), HOLD)
    assert first is not None and second is not None and {first.slot, second.slot} == {0, 1}
    assert one.take("news.test", 2, timedelta(0), HOLD) is None  # both held, whoever asks
    assert two.take("wire.test", 2, timedelta(0), HOLD) is not None  # another host is free
    two.release(first)  # any daemon may free a turn it is handed
    assert one.take("news.test", 2, timedelta(0), HOLD) is not None
    assert two.take("news.test", 1, timedelta(0), HOLD) is None  # per_host lowered: slot 0 is taken


def test_starts_keep_the_hosts_gap_across_daemons(daemons: tuple[PostgresArchive, PostgresArchive]) -> None:
    one, two = (archive.host_turns for archive in daemons)
    gap = timedelta(seconds=2)
    asked = time.monotonic()
    first = one.take("news.test", 4, gap, HOLD)
    second = two.take("news.test", 4, gap, HOLD)
    third = one.take("news.test", 4, gap, HOLD)
    answered = time.monotonic()
    assert first is not None and second is not None and third is not None
    assert asked <= first.start <= answered
    assert 1.5 < second.start - first.start <= 2.1 and 3.5 < third.start - first.start <= 4.1


def test_a_dead_daemons_turn_lapses_and_its_late_release_frees_nothing(
    daemons: tuple[PostgresArchive, PostgresArchive],
) -> None:
    one, two = (archive.host_turns for archive in daemons)
    lost = one.take("news.test", 1, timedelta(0), timedelta(milliseconds=200))
    assert lost is not None
    assert two.take("news.test", 1, timedelta(0), HOLD) is None
    time.sleep(0.3)
    taken = two.take("news.test", 1, timedelta(0), HOLD)
    assert taken is not None
    one.release(lost)  # the first daemon wakes up late: the slot is the second's now
    assert one.take("news.test", 1, timedelta(0), HOLD) is None


def test_an_archive_one_daemon_writes_has_no_shared_turns(tmp_path: object) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path}/a.db")
    assert archive.host_turns is None and not archive.shared
    archive.close()


class _LateReader:
    """A daemon whose event loop reads the database's answer `late` seconds after it came (a busy
    loop, a loaded machine)."""

    def __init__(self, turns: HostTurns, late: float) -> None:
        self.turns, self.late = turns, late

    def take(self, host: str, per_host: int, gap: timedelta, hold: timedelta) -> HostTurn | None:
        turn = self.turns.take(host, per_host, gap, hold)
        time.sleep(self.late)
        return turn

    def release(self, turn: HostTurn) -> None:
        self.turns.release(turn)


def test_a_start_read_late_keeps_its_reservation(daemons: tuple[PostgresArchive, PostgresArchive]) -> None:
    """A daemon that reads its reserved start late must not start later than reserved, where the
    next daemon's reservation begins (it counted the wait from its reading of the answer)."""
    one, two = daemons
    gap = 0.4
    late_gate = HostGate(4, gap, _LateReader(one.host_turns, 0.3))
    prompt_gate = HostGate(4, gap, two.host_turns)

    async def start(gate: HostGate, after: float) -> float:
        await asyncio.sleep(after)
        slot = await gate.acquire("http://news.test/feed.xml")
        started = time.monotonic()
        slot.release()
        return started

    async def both() -> tuple[float, float]:
        # One request already took the host's start: both that follow wait for their turns.
        first = two.host_turns.take("news.test", 4, timedelta(seconds=gap), HOLD)
        assert first is not None
        late, prompt = await asyncio.gather(start(late_gate, 0.0), start(prompt_gate, 0.1))
        return late, prompt

    late, prompt = asyncio.run(both())
    assert prompt - late >= gap - 0.1, (late, prompt)
