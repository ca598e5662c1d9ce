"""Per-host politeness shared through a PostgreSQL archive: slots per host across daemons, the
gap between starts, and holds that lapse when a daemon dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive

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
    first = one.take("news.test", 4, gap, HOLD)
    second = two.take("news.test", 4, gap, HOLD)
    third = one.take("news.test", 4, gap, HOLD)
    assert first is not None and second is not None and third is not None
    assert first.wait == 0
    assert 1.5 < second.wait <= 2 and 3.5 < third.wait <= 4


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
