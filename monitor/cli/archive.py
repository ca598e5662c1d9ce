"""`monitor archive copy --to URL`: the configured archive's history into a PostgreSQL archive;
`stats`: its size and content; `backup PATH`: a consistent copy while daemons write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from monitor.archive.backends import no_archive_yet
from monitor.archive.connections import SqlConnections, Transactions
from monitor.archive.copying import copy_archive
from monitor.archive.postgres import PostgresConnections, shown_url
from monitor.archive.urls import is_postgres_url
from monitor.config.settings import Settings
from monitor.errors import UsageError


def archive_copy_command(settings: Settings, to: str) -> int:
    here = settings.database_url()
    if not is_postgres_url(to):
        raise UsageError(f"archive copy goes to a PostgreSQL archive (postgresql://…), not {to!r}")
    if to == here:
        raise UsageError("the archive to copy into is the configured one")
    source: Transactions = PostgresConnections(here) if is_postgres_url(here) else SqlConnections(here)
    try:
        target = PostgresConnections(to)
        try:
            report = copy_archive(source, target, _progress)
        finally:
            target.close()
    finally:
        source.close()
    print(f"copied {report.copied:,} articles into {shown_url(to)}; rows in each archive:")
    for name, (there, here_) in report.counts.items():
        print(f"  {name:<12} {there:>10,} {here_:>10,}{'' if there == here_ else '  DIFFERENT'}")
    if report.differing:
        print(
            f"monitor: the copy differs in {', '.join(report.differing)}: was a daemon writing either "
            "archive? Stop it and run the copy again (it resumes).",
            file=sys.stderr,
        )
        return 1
    print("the copy is complete: point storage.url at it and start the daemons")
    return 0


def archive_stats_command(settings: Settings, fmt: str) -> int:
    from monitor.archive.inventory import archive_inventory

    url = settings.database_url()
    absent = no_archive_yet(url)
    if absent is not None:
        raise UsageError(absent)
    db: Transactions = PostgresConnections(url) if is_postgres_url(url) else SqlConnections(url)
    try:
        held = archive_inventory(db, url)
    finally:
        db.close()
    if fmt == "json":
        print(json.dumps({"archive": shown_url(url), **held}, ensure_ascii=False, indent=2))
        return 0
    print(f"archive     {shown_url(url)} ({held['backend']}, schema {held['schema_revision']})")
    print(f"size        {held['bytes'] / 1e6:,.1f} MB")
    print("rows        " + ", ".join(f"{name} {count:,}" for name, count in held["rows"].items()))
    print(f"matched     {held['articles_matched']:,} articles; {held['stories']:,} stories")
    print(f"published   {held['first_published'] or '-'} .. {held['last_published'] or '-'}")
    for title in ("sources", "languages", "alerts"):
        listed = ", ".join(f"{name} {count:,}" for name, count in held[title].items()) or "-"
        print(f"{title:<12}{listed}")
    return 0


def archive_backup_command(settings: Settings, path: Path) -> int:
    from monitor.archive.backup import back_up

    print(back_up(settings.database_url(), path))
    return 0


def _progress(done: int, total: int) -> None:
    print(f"  {done:,} of {total:,} articles", file=sys.stderr, flush=True)
