"""A PostgreSQL database for the archive (psycopg 3 through SQLAlchemy Core): the engine, the
schema, and the read and write transactions the archive's components run in.

Its schema is made and upgraded by Alembic (schema.py). Several processes write at once here
(no process-wide write lock as on SQLite): claims take their rows with FOR UPDATE SKIP LOCKED.
The articles' stores and search run on psycopg's own cursor in those transactions (pg_articles.py
and pg_search.py), as SQLite's run on the sqlite3 driver's."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from monitor.archive import pg_readers
from monitor.archive.connections import archive_errors, explained
from monitor.archive.pg_readers import Readers
from monitor.archive.schema_revision import is_newest
from monitor.archive.time_limits import TimedConnection
from monitor.archive.urls import POSTGRES_PREFIXES
from monitor.errors import ArchiveError

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10  # to reach the server, before an unreachable one is reported
# A peer gone without a word (its host down, frozen, cut off) is noticed within about a minute,
# not the kernel's two hours: this side's waits fail (libpq's keepalives), and the server ends
# the session of a daemon that vanished, with its locks and job holds (the server's settings,
# which a session may set for itself). A URL giving its own keepalives keeps them.
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
_SERVER_KEEPALIVES = "-ctcp_keepalives_idle=30 -ctcp_keepalives_interval=10 -ctcp_keepalives_count=3"


def engine_url(url: str) -> str:
    """postgresql://… as the config writes it, with SQLAlchemy's psycopg 3 dialect named."""
    for prefix in POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise ArchiveError(f"not a PostgreSQL URL: {url!r}")


def _connect_options(query: Mapping[str, str | tuple[str, ...]], schema: str | None) -> dict[str, object]:
    """libpq's parameters beyond the URL's (`query`, which wins where it gives them): the
    timeout and the keepalives above, and the server's settings (the keepalives, the schema's
    search path) after the URL's own `options`."""
    options: dict[str, object] = {
        key: value
        for key, value in {"connect_timeout": CONNECT_SECONDS, **_CLIENT_KEEPALIVES}.items()
        if key not in query
    }
    given = query.get("options", "")
    own = " ".join(given) if isinstance(given, tuple) else given
    server = [own] if own else []
    if "tcp_keepalives" not in own:
        server.append(_SERVER_KEEPALIVES)
    if schema:
        server.append(f"-csearch_path={schema}")
    options["options"] = " ".join(server)
    return options


class PostgresConnections:
    """One PostgreSQL database (or one schema of it, with `schema`), brought to the newest
    schema revision (schema.py), and the transactions reads and writes run in."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        _refuse_ambiguous(url)
        try:
            options = _connect_options(make_url(engine_url(url)).query, schema)
            self.engine = create_engine(engine_url(url), connect_args=options)
            cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
            _ping_when_idle(self.engine)
        except (SQLAlchemyError, ValueError) as error:
            raise ArchiveError(
                f"not a usable PostgreSQL URL: {shown_url(url)} (a port is a number; @ : / in a "
                "password are written %40 %3A %2F)"
            ) from error
        try:
            with self.engine.begin() as connection:
                if not is_newest(connection):
                    from monitor.archive.schema import upgrade  # Alembic: only when there is something to do

                    upgrade(connection)
        except (SQLAlchemyError, ArchiveError, ValueError) as error:  # ValueError: a port that is no number
            self.engine.dispose()
            cause = explained(error) if isinstance(error, SQLAlchemyError) else str(error)
            cause = _without_password(cause, url)
            raise ArchiveError(f"cannot open the archive at {shown_url(url)}: {cause}") from error
        # Their statements' time is the searches' work (time_limits.work_done).
        self.readers = Readers(
            lambda: TimedConnection.connect(*cargs, **{**cparams, **options}, autocommit=True)
        )

    def close(self) -> None:
        self.readers.close()
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with archive_errors("write"), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with archive_errors("read"), self.engine.connect() as connection, connection.begin():
            yield connection

    def advisory_lock(self, name: str) -> AdvisoryLock | None:
        """The session lock named `name` in this schema, held on a connection of its own until
        released; None when another session holds it."""
        connection = self.engine.connect()
        try:
            taken = connection.execute(_TRY_LOCK, {"name": name}).scalar()
            connection.commit()  # the lock is the session's: no transaction stays open
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return None
        return AdvisoryLock(connection, name)

    @contextmanager
    def storing(self) -> Iterator[psycopg.Cursor[Any]]:
        """psycopg's cursor in a write transaction."""
        with self.writing() as connection:
            yield _driver(connection).cursor()

    def read_cursor(self, time_limit: float | None = None) -> AbstractContextManager[psycopg.Cursor[Any]]:
        """psycopg's cursor outside a transaction, on a connection kept apart from the engine's
        pool (pg_readers.py says why): each statement reads what was committed when it began,
        and is stopped after `time_limit` seconds (None: the server's statement_timeout)."""
        return self.readers.cursor(time_limit)


# A pooled connection unused for pg_readers.IDLE_SECONDS is tested before use, as readers are.
_RETURNED = "returned"


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_driver: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(driver: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < pg_readers.IDLE_SECONDS:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(driver)  # pool_pre_ping's own test: it leaves no transaction open
        except psycopg.Error as error:
            raise DisconnectionError(
                f"a pooled connection was dropped: {error}"
            ) from error  # the pool reconnects


# Advisory locks are the database's, not the schema's: the key names the schema too.
_KEY = "hashtextextended(current_schema() || ':' || :name, 0)"
_TRY_LOCK = text(f"SELECT pg_try_advisory_lock({_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY})")


class AdvisoryLock:
    """A PostgreSQL session lock, held while its connection stays checked out."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection, self.name = connection, name

    def release(self) -> None:
        try:
            self.connection.execute(_UNLOCK, {"name": self.name})
            self.connection.commit()
        except SQLAlchemyError as error:  # the session is gone, and its lock with it
            log.warning("releasing the %s lock: %s", self.name, explained(error))
        finally:
            self.connection.close()


def _driver(connection: Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def shown_url(url: str) -> str:
    """The URL without its password, in the user part or in the query."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    shown = f"{scheme}://{credentials.split(':', 1)[0]}{at}{host}" if at else url
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", shown)


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def _without_password(message: str, url: str) -> str:
    password = _password(url)
    return message.replace(password, "***") if password else message


def _refuse_ambiguous(url: str) -> None:
    """A password holding an unencoded @ makes its tail read as the host: refused before any
    connection (whose error would show that tail)."""
    authority = url.partition("://")[2].split("/", 1)[0]
    if authority.count("@") > 1:
        raise ArchiveError(
            "the storage URL's user part holds an unencoded @: write it %40 in the password "
            "(and : as %3A, / as %2F)"
        )
