"""`monitor archive copy --to postgresql://…`: a SQLite archive's history moves whole, a copy
cut short resumes, and a database holding another archive is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import yaml

from monitor.archive import SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.rules import parse_query
from tests.archive.helpers import make_article
from tests.configs import write_config
from tests.conftest import Cli
from tests.servers import WebhookReceiver

QUERIES = ['"iron dome" OR 鐵穹', "國防部", "NOT zzz", "laser*", "アイアンドーム OR 防衛"]


def _on_postgresql(config: Path, url: str) -> Path:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["storage"] = {"url": url}
    return write_config(config.with_name("postgresql.yaml"), data)


def test_an_archive_moves_whole_and_the_daemon_carries_on_there(
    cli: Cli, config: Path, webhook: WebhookReceiver, postgres_url: str, postgres_schema: str
) -> None:
    assert cli("-c", str(config), "once")[0] == 0
    sent = len(webhook.wait_for(6))
    target = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    code, out, err = cli("-c", str(config), "archive", "copy", "--to", target)
    assert code == 0, err
    assert "the copy is complete" in out and "DIFFERENT" not in out
    moved = _on_postgresql(config, target)
    for query in QUERIES:
        here = cli.json("-c", str(config), "search", query, "--format", "json")
        there = cli.json("-c", str(moved), "search", query, "--format", "json")
        assert there == here and here, query
    for listing in ("sources", "alerts"):
        moved_listing = cli("-c", str(moved), listing, "--format", "json")[1]
        assert moved_listing == cli("-c", str(config), listing, "--format", "json")[1], listing
    code, out, _ = cli("-c", str(moved), "once")  # the history came along: nothing is new
    assert code == 0 and "0 new articles" in out and "0 alerts sent" in out
    assert len(webhook.deliveries) == sent
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:  # new articles are numbered after the copied ones
        with archive.db.engine.connect() as connection:  # analyzed: its searches planned knowing it
            analyzed = connection.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
                " AND last_analyze IS NOT NULL AND last_vacuum IS NOT NULL"
            )
            assert {"articles", "hits", "alerts"} <= {name for (name,) in analyzed}
        assert archive.store_new([make_article("fresh", url="https://news.test/fresh")], []) == {"fresh"}
    finally:
        archive.close()


def test_a_copy_cut_short_resumes_where_it_stopped(
    cli: Cli, config: Path, postgres_url: str, postgres_schema: str
) -> None:
    assert cli("-c", str(config), "once")[0] == 0
    target = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    assert cli("-c", str(config), "archive", "copy", "--to", target)[0] == 0
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # as if the last batch never came
        connection.execute(f'DELETE FROM "{postgres_schema}".articles WHERE seq > 3')
    code, out, err = cli("-c", str(config), "archive", "copy", "--to", target)
    assert code == 0, err
    copied = int(out.split()[1])
    assert copied > 0 and "DIFFERENT" not in out
    moved = _on_postgresql(config, target)
    assert cli.json("-c", str(moved), "search", "NOT zzz", "--format", "json") == cli.json(
        "-c", str(config), "search", "NOT zzz", "--format", "json"
    )


def test_a_database_holding_another_archive_is_refused(
    cli: Cli, config: Path, postgres_url: str, postgres_schema: str
) -> None:
    assert cli("-c", str(config), "once")[0] == 0
    other = PostgresArchive(postgres_url, schema=postgres_schema)
    other.store_new([make_article("elsewhere")], [])
    other.close()
    target = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    code, _, err = cli("-c", str(config), "archive", "copy", "--to", target)
    assert code == 1
    assert "the target already holds other articles" in err and "Traceback" not in err
    kept = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        found = kept.search(parse_query("NOT zzz"), SearchFilters())
        assert [item.article.id for item in found] == ["elsewhere"]
    finally:
        kept.close()


def test_only_a_postgresql_archive_is_copied_into(cli: Cli, config: Path, tmp_path: Path) -> None:
    code, _, err = cli("-c", str(config), "archive", "copy", "--to", f"sqlite:///{tmp_path / 'other.db'}")
    assert code == 2 and "archive copy goes to a PostgreSQL archive" in err


def test_copying_again_brings_the_alerts_sent_since(
    cli: Cli, config: Path, webhook: WebhookReceiver, postgres_url: str, postgres_schema: str
) -> None:
    webhook.status = 503  # the pass's webhook sends fail: their rows wait to be retried
    assert cli("-c", str(config), "once")[0] == 0
    target = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    assert cli("-c", str(config), "archive", "copy", "--to", target)[0] == 0
    with sqlite3.connect(config.parent / "data" / "monitor.db") as connection:  # sent since
        connection.execute("UPDATE alerts SET state = 'sent'")
    assert cli("-c", str(config), "archive", "copy", "--to", target)[0] == 0
    with psycopg.connect(postgres_url) as connection:
        states = connection.execute(f'SELECT DISTINCT state FROM "{postgres_schema}".alerts').fetchall()
    assert states == [("sent",)]
