"""`monitor archive backup PATH`: a consistent copy of the archive while daemons keep writing.
A SQLite archive is copied by SQLite's online backup (one read transaction: the copy is the
archive as of one moment) into a file of its own beside PATH, checked, then linked to PATH only
if PATH is still free (two backups at once: one wins, the other says so); a PostgreSQL archive's
schema is dumped by pg_dump (one snapshot), to restore with pg_restore."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing, suppress
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from sqlalchemy import text

from monitor.archive.postgres import PostgresConnections, shown_url
from monitor.archive.urls import POSTGRES_PREFIXES, is_postgres_url
from monitor.errors import ArchiveError, UsageError

_SIDE_FILES = ("", "-wal", "-shm", "-journal")  # SQLite's files of one archive


def back_up(url: str, to: Path) -> str:
    """Copy the archive at `url` to the new file `to`; what was written, for the operator."""
    if to.is_dir():
        raise UsageError(f"{to} is a folder: give the backup's file name")
    if to.exists():
        raise UsageError(f"{to} exists: a backup goes to a new file, never over one")
    if not to.parent.is_dir():
        raise UsageError(f"there is no folder {str(to.parent)!r} to back up into: make it first (mkdir -p)")
    partial = to.with_name(f".{to.name}.{secrets.token_hex(4)}.partial")  # this backup's own
    try:
        if is_postgres_url(url):
            _dump(url, partial)
            how = f"restore it with: pg_restore --dbname=URL {shlex.quote(str(to))}"
        else:
            _copy_sqlite(Path(url.removeprefix("sqlite:///")), partial, to)
            how = f"it is a SQLite archive: storage.url sqlite:///{to.resolve()} reads it"
        _claim(partial, to)
    except OSError as error:
        raise ArchiveError(f"cannot write the backup {to}: {error.strerror or error}") from error
    finally:
        for side in _SIDE_FILES:
            with suppress(OSError):  # a read-only or full disk must not hide why the copy failed
                Path(f"{partial}{side}").unlink(missing_ok=True)
    return f"backed up {shown_url(url)} to {to} ({to.stat().st_size:,} bytes); {how}"


def _claim(partial: Path, to: Path) -> None:
    """Put the finished copy at `to` unless something is there by now (a link fails then)."""
    try:
        os.link(partial, to)
    except FileExistsError:
        raise UsageError(f"{to} exists: a backup goes to a new file, never over one") from None


def _copy_sqlite(archive: Path, partial: Path, to: Path) -> None:
    if not archive.is_file():
        raise UsageError(f"no archive at {archive} yet: nothing to back up")
    if to.resolve() in {Path(f"{archive.resolve()}{side}") for side in _SIDE_FILES}:
        raise UsageError(f"{to} is one of the archive's own files: give another name")
    try:
        with closing(sqlite3.connect(archive)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # all pages in one step: one read transaction, writers carry on (WAL)
            verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
            copy.execute("PRAGMA journal_mode=DELETE")  # one file to keep, no -wal beside it
    except sqlite3.Error as error:
        raise ArchiveError(f"cannot back up {archive}: {error}") from error
    if verdict != "ok":
        raise ArchiveError(f"the copy of {archive} failed its check ({verdict}): is the archive damaged?")


def _dump(url: str, partial: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise UsageError(
            "a PostgreSQL archive is backed up by pg_dump, not found: install PostgreSQL's client tools"
        )
    db = PostgresConnections(url)
    try:
        with db.reading() as reading:
            schema = str(reading.execute(text("SELECT current_schema()")).scalar_one())
    finally:
        db.close()
    address, password = _libpq(url)
    environment = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    quoted = '"' + schema.replace('"', '""') + '"'  # a name, not a pattern: Mon stays Mon
    done = subprocess.run(
        [pg_dump, "--format=custom", f"--schema={quoted}", f"--file={partial}", f"--dbname={address}"],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    if done.returncode != 0:
        said = done.stderr.strip() or f"exit {done.returncode}"
        raise ArchiveError(f"pg_dump failed: {said.replace(password, '***') if password else said}")


def _libpq(url: str) -> tuple[str, str | None]:
    """The URL as libpq reads it (postgresql://) without its password, and the password: given
    to pg_dump in its environment, never on its command line, which any local user can read."""
    for prefix in POSTGRES_PREFIXES:
        if url.startswith(prefix):
            url = "postgresql://" + url.removeprefix(prefix)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = unquote(parts.password) if parts.password else None
    password = given or next((value for key, value in query if key == "password"), None)
    netloc = re.sub(r"^([^:@]*):[^@]*@", r"\1@", parts.netloc)
    kept = urlencode([(key, value) for key, value in query if key != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment)), password
