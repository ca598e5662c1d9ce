"""Pooled connections the server dropped (a restart, an idle timeout): one idle for a while is
tested before use and replaced; one in steady use is not tested, and a failure on it is
reported once, the next use reconnecting."""

from __future__ import annotations

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
