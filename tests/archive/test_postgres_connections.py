"""Pooled connections the server dropped (a restart, an idle timeout): one idle for a while is
tested before use and replaced; one in steady use is not tested, and a failure on it is
reported once, the next use reconnecting."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from monitor.archive import SearchFilters, pg_readers
from monitor.archive.pg_archive import PostgresArchive
from monitor.errors import ArchiveError
from monitor.rules import parse_query
from tests.archive.helpers import make_article


def _drop_the_archive_sessions(postgres_url: str, archive: PostgresArchive) -> int:
    """Terminate the server sessions of the archive (its pool's and its readers'), as a server
    restart would."""
    with archive.db.engine.connect() as connection:
        pooled = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with archive.db.read_cursor() as cursor:
        [[reader]] = cursor.execute("SELECT pg_backend_pid()").fetchall()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM unnest(%s::int[]) AS pid", ([pooled, reader],)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_dropped_while_idle_is_replaced_unnoticed(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        archive.store_new([make_article("a1")], [])
        assert _drop_the_archive_sessions(postgres_url, archive) == 2
        monkeypatch.setattr(pg_readers, "IDLE_SECONDS", 0.0)  # every kept connection counts as idle
        found = archive.search(parse_query("iron"), SearchFilters())
        assert [item.article.id for item in found] == ["a1"]
    finally:
        archive.close()


def test_a_live_connection_idle_for_a_while_is_tested_and_used(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test leaves nothing behind: reads (outside a transaction) and writes both go on."""
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        archive.store_new([make_article("a1")], [])
        monkeypatch.setattr(pg_readers, "IDLE_SECONDS", 0.0)
        for key in ("a2", "a3"):
            archive.search(parse_query("iron"), SearchFilters())
            archive.store_new([make_article(key, url=f"https://x.test/{key}")], [])
        assert len(archive.search(parse_query("iron"), SearchFilters())) == 3
    finally:
        archive.close()


def test_a_connection_dropped_in_steady_use_fails_once_then_reconnects(
    postgres_url: str, postgres_schema: str
) -> None:
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        archive.store_new([make_article("a1")], [])
        assert _drop_the_archive_sessions(postgres_url, archive) == 2
        with pytest.raises(ArchiveError, match=r"cannot read the archive: .*(terminat|closed)"):
            archive.search(parse_query("iron"), SearchFilters())
        assert [item.article.id for item in archive.search(parse_query("iron"), SearchFilters())] == ["a1"]
    finally:
        archive.close()


def _readers_held_at_once(archive: PostgresArchive, count: int, inside: Callable[[int], None]) -> list[int]:
    """`count` threads each holding a reader at the same moment; `inside` runs with each one's
    server process id while all are held. The ids."""
    meeting = threading.Barrier(count)
    pids: list[int] = []

    def hold() -> None:
        with archive.db.read_cursor() as cursor:
            [[pid]] = cursor.execute("SELECT pg_backend_pid()").fetchall()
            pids.append(pid)
            meeting.wait(timeout=10)
            inside(pid)

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pids


def _alive(postgres_url: str, pids: list[int], within: float = 10.0) -> int:
    """How many of the server processes are still there once all are gone or `within` seconds
    have passed: a session's process ends a moment after its client closes the connection (a
    loaded machine once counted one still ending)."""
    deadline = time.monotonic() + within
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        while True:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchone()
            assert row is not None
            if row[0] == 0 or time.monotonic() > deadline:
                return int(row[0])
            time.sleep(0.05)


def test_after_one_dropped_reader_the_other_idle_ones_are_tested(
    postgres_url: str, postgres_schema: str
) -> None:
    """A server that drops one session has usually dropped them all: one search fails, not one
    per idle connection."""
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        archive.store_new([make_article("a1")], [])
        pids = _readers_held_at_once(archive, pg_readers.MOST_READERS, lambda _pid: None)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        outcomes = []
        for _ in range(pg_readers.MOST_READERS + 2):
            try:
                archive.search(parse_query("iron"), SearchFilters())
                outcomes.append("ok")
            except ArchiveError:
                outcomes.append("failed")
        assert outcomes.count("failed") <= 1 and outcomes[-1] == "ok", outcomes
    finally:
        archive.close()


def test_readers_in_use_when_the_archive_closes_are_closed_as_they_come_back(
    postgres_url: str, postgres_schema: str
) -> None:
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    closing = threading.Event()

    def close_once_all_are_held(_pid: int) -> None:
        if not closing.is_set():
            closing.set()
            archive.close()

    pids = _readers_held_at_once(archive, 3, close_once_all_are_held)
    assert _alive(postgres_url, pids) == 0
    with pytest.raises(ArchiveError, match="closed"):
        archive.search(parse_query("iron"), SearchFilters())


def test_at_most_most_readers_at_once(postgres_url: str, postgres_schema: str) -> None:
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    held, most, lock = 0, 0, threading.Lock()

    def search() -> None:
        nonlocal held, most
        with archive.db.read_cursor() as cursor:
            with lock:
                held += 1
                most = max(most, held)
            cursor.execute("SELECT pg_sleep(0.2)")
            with lock:
                held -= 1

    try:
        threads = [threading.Thread(target=search) for _ in range(3 * pg_readers.MOST_READERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert most == pg_readers.MOST_READERS
    finally:
        archive.close()


def test_the_archive_answers_a_probe_while_searches_hold_every_reader(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_readers, "READER_WAIT", 0.5)
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        with contextlib.ExitStack() as held:
            for _ in range(pg_readers.MOST_READERS):
                held.enter_context(archive.db.read_cursor())
            with pytest.raises(ArchiveError, match="no connection free"):
                archive.articles([])  # a read needing a reader waits, then fails
            archive.answers()  # the probe's does not
    finally:
        archive.close()


_SETTINGS = (
    "SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_count'), "
    "current_setting('work_mem'), current_setting('search_path')"
)


@pytest.mark.parametrize("url_keepalives", ["", "&keepalives_idle=120"])
def test_every_session_has_keepalives_both_ways_and_the_urls_own_options(
    postgres_url: str, postgres_schema: str, url_keepalives: str
) -> None:
    """A peer that vanished without a word (its host down or cut off) is noticed within about a
    minute: the server ends a dead daemon's session, with its job holds (digests, retention),
    and a daemon's waits on a dead server fail, rather than the kernel's two hours. The URL's
    own `options` and libpq parameters are kept."""
    url = f"{postgres_url}?options=-cwork_mem%3D5MB{url_keepalives}"
    archive = PostgresArchive(url, schema=postgres_schema)
    try:
        with archive.db.engine.connect() as connection:
            pooled = tuple(connection.exec_driver_sql(_SETTINGS).one())
            driver = connection.connection.dbapi_connection
            assert isinstance(driver, psycopg.Connection)
            pooled_client = driver.info.get_parameters()
        with archive.db.read_cursor() as cursor:
            [reader] = cursor.execute(_SETTINGS).fetchall()
            reader_client = cursor.connection.info.get_parameters()
    finally:
        archive.close()
    assert pooled == tuple(reader) == ("30", "3", "5MB", postgres_schema)
    for client in (pooled_client, reader_client):
        assert client["keepalives"] == "1" and client["keepalives_count"] == "3"
        assert client["keepalives_idle"] == ("120" if url_keepalives else "30")
