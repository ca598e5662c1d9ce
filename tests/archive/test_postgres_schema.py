"""PostgreSQL archives are made by Alembic's revisions: what they build is what tables.py
describes (with PostgreSQL's full-text index beside it), and a revision this program does not
know is refused, changing nothing."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.archive.postgres import PostgresConnections
from monitor.archive.schema import POSTGRES_ONLY
from monitor.archive.tables import metadata
from monitor.errors import ArchiveError


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
