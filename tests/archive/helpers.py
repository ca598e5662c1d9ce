from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from monitor.archive import Archive
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.postgres import engine_url
from monitor.archive.sql import SqlArchive
from monitor.models import Article, Hit
from tests.postgres import new_schema

BACKENDS = ["sqlite", "postgresql"]

NOW = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)


def make_article(
    key: str, title: str = "Iron Dome visit", text: str = "The Iron Dome was shown.", **changes: object
) -> Article:
    hit = Hit("Iron Dome", "Iron Dome", "text", 4, 13, text)
    fields: dict[str, object] = {
        "id": key,
        "url": f"https://news.test/{key}",
        "guid": key,
        "source": "Harbor Daily",
        "title": title,
        "teaser": "",
        "text": text,
        "summary": text,
        "published": NOW,
        "fetched": NOW,
        "language": "en",
        "story": key,
        "hits": (hit,),
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]


@contextmanager
def archive_of(request: pytest.FixtureRequest, folder: Path, backend: str | None = None) -> Iterator[Archive]:
    """A fresh archive of `backend`, by default the one a fixture is parametrized with
    ("sqlite": a file in the folder; "postgresql": a schema of the test run's database), closed
    and dropped after use."""
    with ExitStack() as stack:
        if (backend or request.param) == "sqlite":
            archive: Archive = SqlArchive(f"sqlite:///{folder / 'archive.db'}")
        else:
            url = request.getfixturevalue("postgres_url")
            archive = PostgresArchive(url, schema=stack.enter_context(new_schema(url)))
        stack.callback(archive.close)
        yield archive


def as_before_alembic(connection: sqlite3.Connection, version: int) -> None:
    """Mark a SQLite archive whose tables a test has made those of schema `version` as a monitor
    before Alembic left it: the version in user_version, no Alembic version table."""
    connection.execute("DROP TABLE alembic_version")
    connection.execute(f"PRAGMA user_version = {version}")


@contextmanager
def archive_and_engine(
    request: pytest.FixtureRequest, folder: Path, backend: str
) -> Iterator[tuple[Archive, Engine]]:
    """An archive of the backend, and an engine on its tables."""
    with ExitStack() as stack:
        archive: Archive
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'archive.db'}"
            archive, engine = SqlArchive(url), create_engine(url)
        else:
            url = request.getfixturevalue("postgres_url")
            schema = stack.enter_context(new_schema(url))
            archive = PostgresArchive(url, schema=schema)
            engine = create_engine(engine_url(url), connect_args={"options": f"-csearch_path={schema}"})
        stack.callback(archive.close)
        stack.callback(engine.dispose)
        yield archive, engine
