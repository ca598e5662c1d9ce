"""`monitor archive copy`: an archive's history into a PostgreSQL archive, so that a desk moving
from one daemon on SQLite to several on PostgreSQL loses nothing: sources with their schedule
state, articles with their hits and story band keys, and the alert outbox.

Articles go in storing order (their seq kept) in batches, each with its hits and band keys in
one transaction, so a copy cut short resumes after the last batch it committed; sources and
alert rows are written over with the source's (an alert sent since the last run is marked sent
there too). It ends by comparing each table's rows on both sides. The PostgreSQL index of each
article is made from its text, as storing it there would. An article edited after it was
copied keeps its first version in the copy. The copied tables are analyzed at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from monitor.archive.connections import Transactions, operation
from monitor.archive.pg_articles import copy_articles
from monitor.archive.postgres import PostgresConnections
from monitor.archive.tables import alerts, articles, hits, sources, story_bands
from monitor.errors import ArchiveError

BATCH = 1000  # articles a transaction
COUNTED = {
    "sources": sources, "articles": articles, "hits": hits, "story bands": story_bands, "alerts": alerts,
}  # fmt: skip
# New articles are numbered after the copied ones, whose numbers are kept.
_NEXT_SEQ = text("SELECT setval(pg_get_serial_sequence('articles', 'seq'), max(seq)) FROM articles")
Progress = Callable[[int, int], None]  # articles in the target so far, articles to copy in all


@dataclass(frozen=True, slots=True)
class CopyReport:
    copied: int  # articles copied by this run (the others were there from an earlier one)
    counts: dict[str, tuple[int, int]]  # table: (rows in the source, rows in the target)

    @property
    def differing(self) -> list[str]:
        return [name for name, (there, here) in self.counts.items() if there != here]


@operation("copying the archive")
def copy_archive(
    source: Transactions,
    target: PostgresConnections,
    progress: Progress = lambda _, __: None,
) -> CopyReport:
    """Copy what the target lacks of the source; `progress(copied, total)` after each batch."""
    with source.reading() as reading:
        total = reading.execute(select(func.count()).select_from(articles)).scalar_one()
    resume_after = _resume_point(source, target)
    already = total - _left(source, resume_after)
    with source.reading() as reading, target.writing() as writing:
        _copy_sources(reading, writing)
    copied = 0
    while True:
        with source.reading() as reading:
            after = articles.c.seq > resume_after
            batch = reading.execute(select(articles).where(after).order_by(articles.c.seq).limit(BATCH)).all()
            if not batch:
                break
            ids = [row.id for row in batch]
            of_batch = hits.c.article_id.in_(ids)
            batch_hits = reading.execute(select(hits).where(of_batch).order_by(hits.c.id)).all()
            bands = reading.execute(select(story_bands).where(story_bands.c.article_id.in_(ids))).all()
        with target.storing() as cursor:
            copy_articles(cursor, batch, batch_hits, bands)
        resume_after = batch[-1].seq
        copied += len(batch)
        progress(already + copied, total)
    with target.writing() as writing:
        writing.execute(_NEXT_SEQ)
    with source.reading() as reading:
        outbox = reading.execute(select(alerts)).all()
    for start in range(0, len(outbox), BATCH):
        with target.writing() as writing:
            rows = [dict(row._mapping) for row in outbox[start : start + BATCH]]
            statement = postgresql_insert(alerts).values(rows)
            # A row copied before may have been sent since: the source's state is the one to keep.
            now = {column.name: statement.excluded[column.name] for column in alerts.c if column.name != "id"}
            writing.execute(statement.on_conflict_do_update(index_elements=["id"], set_=now))
    _analyzed(target)
    return CopyReport(copied, _counts(source, target))


def _analyzed(target: PostgresConnections) -> None:
    """The copied tables vacuumed and analyzed, as PostgreSQL's manual asks after a bulk load:
    before, the planner knows nothing of a million articles (a common word's search took a
    second, not 2 ms) until autovacuum comes by, and never where it is off."""
    with target.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM ANALYZE {', '.join(table.name for table in COUNTED.values())}")


def _left(source: Transactions, after: int) -> int:
    with source.reading() as reading:
        return int(reading.execute(select(func.count()).where(articles.c.seq > after)).scalar_one())


def _resume_point(source: Transactions, target: PostgresConnections) -> int:
    """The seq after which the source's articles are still to copy: the target's last, when
    the target's articles are the source's own (an earlier copy); ArchiveError when the target
    holds articles of another archive, which a copy would mix with these."""
    with target.reading() as reading:
        last = reading.execute(
            select(articles.c.seq, articles.c.id).order_by(articles.c.seq.desc()).limit(1)
        ).first()
    if last is None:
        return 0
    with source.reading() as reading:
        same = reading.execute(select(articles.c.id).where(articles.c.seq == last.seq)).scalar_one_or_none()
    if same != last.id:
        raise ArchiveError(
            f"the target already holds other articles (its article {last.seq} is {last.id!r}, not "
            "this archive's): copy into an empty database or schema"
        )
    return int(last.seq)


def _copy_sources(reading: Connection, writing: Connection) -> None:
    """Every source's schedule state, the target's replaced by the source's (no claims: no
    daemon polls either archive during a copy)."""
    rows = [dict(row._mapping) | {"claimed_at": None} for row in reading.execute(select(sources))]
    if not rows:
        return
    statement = postgresql_insert(sources).values(rows)
    kept = {column.name: statement.excluded[column.name] for column in sources.c if column.name != "name"}
    writing.execute(statement.on_conflict_do_update(index_elements=["name"], set_=kept))


def _counts(source: Transactions, target: Transactions) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for name, table in COUNTED.items():
        pair: list[int] = []
        for side in (source, target):
            with side.reading() as reading:
                pair.append(int(reading.execute(select(func.count()).select_from(table)).scalar_one()))
        counts[name] = (pair[0], pair[1])
    return counts
