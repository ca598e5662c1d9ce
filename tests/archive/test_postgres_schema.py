"""PostgreSQL archives are made by Alembic's revisions: what they build is what tables.py
describes (with PostgreSQL's full-text index beside it), and a revision this program does not
know is refused, changing nothing."""

from __future__ import annotations

import re

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from monitor.archive import SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.postgres import PostgresConnections, engine_url
from monitor.archive.schema import POSTGRES_ONLY, upgrade
from monitor.archive.tables import metadata
from monitor.errors import ArchiveError
from monitor.rules import parse_query


def test_the_revisions_build_what_the_tables_describe(postgres_url: str, postgres_schema: str) -> None:
    database = PostgresConnections(postgres_url, postgres_schema)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": lambda name, *_: name not in POSTGRES_ONLY}
            )
            differences = compare_metadata(context, metadata)
        assert differences == []
        PostgresConnections(postgres_url, postgres_schema).close()  # opening again changes nothing
    finally:
        database.close()


def test_an_archive_from_a_newer_monitor_is_refused_unchanged(
    postgres_url: str, postgres_schema: str
) -> None:
    PostgresConnections(postgres_url, postgres_schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            f'UPDATE "{postgres_schema}".alembic_version SET version_num = %s', ("r99_from_the_future",)
        )
    with pytest.raises(ArchiveError, match=r"'r99_from_the_future', newer than this program knows"):
        PostgresConnections(postgres_url, postgres_schema)
    with psycopg.connect(postgres_url) as reader:
        [[revision]] = reader.execute(
            f'SELECT version_num FROM "{postgres_schema}".alembic_version'
        ).fetchall()
    assert revision == "r99_from_the_future"


_R14_ARTICLE = text(
    "INSERT INTO articles (id, url, guid, source, title, teaser, text, summary, published, fetched, "
    "story, matched, search) VALUES (:id, :url, :url, 's', 't', '', 'radar coast', '', now(), now(), :id, 0, "
    "CAST(:vector AS tsvector))"
)


def test_articles_marked_by_revision_14_get_their_gaps_recorded(
    postgres_url: str, postgres_schema: str
) -> None:
    """r14 marked an article whose index lacked positions or words with a private-use lexeme;
    r15 records that in search_gaps, so the article is still read apart by search."""
    in_schema = {"options": f"-csearch_path={postgres_schema}"}
    engine = create_engine(engine_url(postgres_url), connect_args=in_schema)
    # a1 lost its positions, a2 a word, a3 nothing (its text is "radar coast" too, as written).
    marked = {"a1": "'radar' 'coast' '\ue001'", "a2": "'radar':1 '\ue002'", "a3": "'radar':1 'coast':3"}
    try:
        with engine.begin() as connection:
            upgrade(connection, to="r14_search")
            for key, vector in marked.items():
                connection.execute(
                    _R14_ARTICLE, {"id": key, "url": f"https://x.test/{key}", "vector": vector}
                )
    finally:
        engine.dispose()
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        with archive.db.reading() as connection:
            rows = connection.execute(text("SELECT id, search_gaps, search::text FROM articles ORDER BY id"))
            assert [tuple(row) for row in rows] == [
                ("a1", 1, "'coast' 'radar'"),
                ("a2", 2, "'radar':1"),
                ("a3", 0, "'coast':3 'radar':1"),
            ]
        found = archive.search(parse_query('"radar coast"'), SearchFilters())
        assert sorted(item.article.id for item in found) == ["a1", "a2"]  # read apart and verified
    finally:
        archive.close()


@pytest.mark.parametrize(
    ("theirs", "said"),
    [
        ("CREATE TABLE customers (id int)", "holds tables the monitor did not make (customers)"),
        (
            "CREATE TABLE alembic_version (version_num varchar(32)); "
            "INSERT INTO alembic_version VALUES ('ae1027a6acf'); CREATE TABLE invoices (id int)",
            "holds another program's tables (Alembic revision 'ae1027a6acf')",
        ),
    ],
)
def test_another_programs_schema_is_refused_unchanged(
    postgres_url: str, postgres_schema: str, theirs: str, said: str
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'SET search_path = "{postgres_schema}"')
        for statement in theirs.split("; "):
            admin.execute(statement)
    with pytest.raises(ArchiveError, match=re.escape(said)):
        PostgresConnections(postgres_url, postgres_schema)
    with psycopg.connect(postgres_url) as reader:
        tables = reader.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (postgres_schema,)
        ).fetchall()
    assert "articles" not in {name for (name,) in tables}
