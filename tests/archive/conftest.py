"""The archive's backends for contract tests: SQLite files, and PostgreSQL in a database of this
test run's own (dropped after it), a schema per test. The PostgreSQL server is part of the
development and CI machines (127.0.0.1:5432, trust auth): without it these tests fail, they are
never skipped. MONITOR_TEST_POSTGRESQL names another server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from monitor.archive.connections import SqlConnections, Transactions
from monitor.archive.postgres import PostgresConnections

SERVER = os.environ.get("MONITOR_TEST_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test run and dropped at its end, so runs never collide."""
    name = f"monitor_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"the archive's PostgreSQL tests need a server at {SERVER} (MONITOR_TEST_POSTGRESQL): {error}"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield SERVER.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one test in the run's database, dropped after it."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')


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
