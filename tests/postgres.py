"""The PostgreSQL server of the tests: a database of this test run's own (dropped after it),
and a schema per test or module in it. The server is part of the development and CI machines
(127.0.0.1:5432, trust auth): without it these tests fail, they are never skipped.
MONITOR_TEST_POSTGRESQL names another server. (A pytest plugin: tests/conftest.py loads it.)"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

SERVER = os.environ.get("MONITOR_TEST_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")


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


@contextmanager
def new_schema(url: str) -> Iterator[str]:
    """A schema of its own in the run's database, dropped after use."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one test in the run's database, dropped after it."""
    with new_schema(postgres_url) as name:
        yield name
