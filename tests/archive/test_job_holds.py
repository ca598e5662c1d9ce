"""Jobs that must run once (digests, retention) are held by one daemon at a time on an archive
several daemons share, and by the only one on an archive only one daemon writes."""

from __future__ import annotations

import time

import psycopg

from monitor.archive.pg_archive import PostgresArchive
from tests.archive.conftest import ArchiveOpener
from tests.postgres import new_schema

_KILL_LOCK_HOLDERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def test_a_job_is_held_by_one_daemon_at_a_time_where_several_share_the_archive(
    open_archive: ArchiveOpener,
) -> None:
    first, second = open_archive(), open_archive()
    hold = first.hold_job("digest morning")
    assert hold is not None
    other = second.hold_job("digest morning")
    if first.shared:
        assert other is None
        assert second.hold_job("retention") is not None  # another job is free
        hold.release()
        again = second.hold_job("digest morning")
        assert again is not None
        again.release()
    else:  # the only daemon: nothing to wait for
        assert other is not None


def test_a_dead_daemons_hold_goes_with_its_session(postgres_url: str, postgres_schema: str) -> None:
    first = PostgresArchive(postgres_url, schema=postgres_schema)
    second = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        assert first.hold_job("retention") is not None
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # as if its process was killed
            admin.execute(_KILL_LOCK_HOLDERS)
        deadline = time.monotonic() + 10  # the server ends a terminated session a moment later
        while (hold := second.hold_job("retention")) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hold is not None
        hold.release()
    finally:
        first.close()
        second.close()


def test_holds_in_two_schemas_of_one_database_are_apart(postgres_url: str, postgres_schema: str) -> None:
    with new_schema(postgres_url) as elsewhere:
        one = PostgresArchive(postgres_url, schema=postgres_schema)
        two = PostgresArchive(postgres_url, schema=elsewhere)
        try:
            assert one.hold_job("retention") is not None
            assert two.hold_job("retention") is not None
        finally:
            one.close()
            two.close()
