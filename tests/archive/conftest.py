"""The archive's backends for contract tests: SQLite files, and PostgreSQL in a schema per test
(tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.archive import Archive
from monitor.archive.connections import SqlConnections, Transactions
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.postgres import PostgresConnections
from monitor.archive.sql import SqlArchive
from monitor.near_duplicates import StoryGrouping
from tests.archive.helpers import BACKENDS

# Opens another connection to the test's database, as a second process would.
Opener = Callable[[], Transactions]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens connections to one fresh archive database of the parametrized backend; every one
    opened is closed after the test (before its PostgreSQL schema is dropped)."""
    connect: Opener
    if request.param == "sqlite":
        path = tmp_path / "archive.db"

        def connect() -> Transactions:
            return SqlConnections(f"sqlite:///{path}")
    else:
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("postgres_schema")

        def connect() -> Transactions:
            return PostgresConnections(url, schema)

    opened: list[Transactions] = []

    def open_one() -> Transactions:
        opened.append(connect())
        return opened[-1]

    yield open_one
    for connections in opened:
        connections.close()


# Opens the test's archive (again, as a second process would), with a story grouping if given.
ArchiveOpener = Callable[..., Archive]


@pytest.fixture(params=BACKENDS)
def open_archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArchiveOpener]:
    """Opens one fresh archive of the parametrized backend; every one opened is closed after
    the test."""
    opened: list[Archive] = []
    if request.param == "sqlite":
        path = tmp_path / "archive.db"

        def connect(stories: StoryGrouping | None = None) -> Archive:
            return SqlArchive(f"sqlite:///{path}", stories)
    else:
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("postgres_schema")

        def connect(stories: StoryGrouping | None = None) -> Archive:
            return PostgresArchive(url, stories, schema)

    def open_one(stories: StoryGrouping | None = None) -> Archive:
        opened.append(connect(stories))
        return opened[-1]

    yield open_one
    for archive in opened:
        archive.close()


@pytest.fixture
def archive(open_archive: ArchiveOpener) -> Archive:
    """A fresh archive of each backend."""
    return open_archive()
