"""`monitor archive backup PATH`: a consistent copy of the archive while daemons keep writing.
A SQLite archive is copied by SQLite's online backup (one read transaction: the copy is the
archive as of one moment), into PATH.partial, checked, then renamed to PATH; a PostgreSQL
archive's schema is dumped by pg_dump (one snapshot), to restore with pg_restore."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import text

from monitor.archive.postgres import PostgresConnections, shown_url
from monitor.archive.urls import POSTGRES_PREFIXES, is_postgres_url
from monitor.errors import ArchiveError, UsageError


def back_up(url: str, to: Path) -> str:
    """Copy the archive at `url` to the new file `to`; what was written, for the operator."""
    if to.exists():
        raise UsageError(f"{to} exists: a backup goes to a new file, never over one")
    if not to.parent.is_dir():
        raise UsageError(f"{to.parent} is no folder: the backup's folder must exist")
    partial = to.with_name(to.name + ".partial")
    try:
        if is_postgres_url(url):
            _dump(url, partial)
            how = f"restore it with: pg_restore --dbname=URL {to}"
        else:
            _copy_sqlite(Path(url.removeprefix("sqlite:///")), partial)
            how = f"it is a SQLite archive: storage.url sqlite:///{to.resolve()} reads it"
        partial.rename(to)
    finally:
        partial.unlink(missing_ok=True)
    return f"backed up {shown_url(url)} to {to} ({to.stat().st_size:,} bytes); {how}"


def _copy_sqlite(archive: Path, partial: Path) -> None:
    if not archive.is_file():
        raise ArchiveError(f"no archive at {archive}")
    with closing(sqlite3.connect(archive)) as source, closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)  # all pages in one step: one read transaction, writers carry on (WAL)
        verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
        copy.execute("PRAGMA journal_mode=DELETE")  # one file to keep, no -wal beside it
    if verdict != "ok":
        raise ArchiveError(f"the copy failed its check ({verdict}): the archive was left as it is")


def _libpq(url: str) -> str:
    """The URL as libpq reads it: postgresql://, whichever spelling the config used."""
    for prefix in POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


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
    done = subprocess.run(
        [pg_dump, "--format=custom", f"--schema={schema}", f"--file={partial}", f"--dbname={_libpq(url)}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ArchiveError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
