"""Opening an archive already at the newest schema revision reads Alembic's version table
itself (schema_revision.py) and loads no Alembic; an older one is still upgraded by it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from monitor.archive.postgres import PostgresConnections, engine_url
from monitor.archive.schema import head_revision, upgrade
from monitor.archive.schema_revision import NEWEST_REVISION
from monitor.archive.sql import SqlArchive


def test_the_newest_revision_is_the_head_of_the_revisions() -> None:
    assert head_revision() == NEWEST_REVISION


def _loads_alembic(opening: str) -> bool:
    """Whether a new process running `opening` (Python) imported Alembic."""
    script = f"import sys\n{opening}\nprint('alembic' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


def test_a_sqlite_archive_at_the_newest_revision_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    SqlArchive(url).close()
    opening = f"from monitor.archive.sql import SqlArchive\nSqlArchive({url!r}).close()"
    assert not _loads_alembic(opening)
    with sqlite3.connect(tmp_path / "archive.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'r15_search_gaps'")
    assert _loads_alembic(opening)  # an older revision: Alembic brings it forward
    with sqlite3.connect(tmp_path / "archive.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (NEWEST_REVISION,)
        ]


def test_a_postgresql_archive_at_the_newest_revision_opens_without_alembic(
    postgres_url: str, postgres_schema: str
) -> None:
    opening = (
        "from monitor.archive.postgres import PostgresConnections\n"
        f"PostgresConnections({postgres_url!r}, {postgres_schema!r}).close()"
    )
    assert _loads_alembic(opening)  # an empty schema: Alembic makes the tables
    assert not _loads_alembic(opening)  # at the newest revision: read, nothing to do


def test_a_postgresql_archive_of_an_older_revision_is_upgraded(
    postgres_url: str, postgres_schema: str
) -> None:
    engine = create_engine(
        engine_url(postgres_url), connect_args={"options": f"-csearch_path={postgres_schema}"}
    )
    try:
        with engine.begin() as connection:
            upgrade(connection, to="r15_search_gaps")
    finally:
        engine.dispose()
    PostgresConnections(postgres_url, postgres_schema).close()
    with psycopg.connect(postgres_url) as reader:
        held = reader.execute(f'SELECT version_num FROM "{postgres_schema}".alembic_version').fetchall()
    assert held == [(NEWEST_REVISION,)]
