"""A PostgreSQL database for the archive (psycopg 3 through SQLAlchemy Core): the engine, the
schema, and the read and write transactions the archive's components run in.

Work in progress for issue 19: the sources' schedule and claims (sources_sql.py) and the alert
outbox (outbox_sql.py) run on it; the articles' store and search do not yet, so `storage.url`
still refuses postgresql://. Its schema is made and upgraded by Alembic (schema.py).
Several processes write at once here (no process-wide write lock as on SQLite): claims take
their rows with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.archive.connections import archive_errors
from monitor.archive.schema import upgrade
from monitor.errors import ArchiveError


def engine_url(url: str) -> str:
    """postgresql://… as the config writes it, with SQLAlchemy's psycopg 3 dialect named."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise ArchiveError(f"not a PostgreSQL URL: {url!r}")


class PostgresConnections:
    """One PostgreSQL database (or one schema of it, with `schema`), brought to the newest
    schema revision (schema.py), and the transactions reads and writes run in."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        options = {"options": f"-csearch_path={schema}"} if schema else {}
        self.engine = create_engine(engine_url(url), connect_args=options, pool_pre_ping=True)
        try:
            with self.engine.begin() as connection:
                upgrade(connection)
        except (SQLAlchemyError, ArchiveError) as error:
            self.engine.dispose()
            raise ArchiveError(f"cannot open the archive at {_shown(url)}: {error}") from error

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with archive_errors("write"), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with archive_errors("read"), self.engine.connect() as connection, connection.begin():
            yield connection


def _shown(url: str) -> str:
    """The URL without its password."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':', 1)[0]}{at}{host}" if at else url
