"""The archive's writes of articles and alert rows, used inside SqlArchive's transactions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.archive import OutboxRow
from monitor.archive.bulk import Value, insert_rows
from monitor.archive.tables import MARK_BLOCK, articles, hits, publication_marks, stored_datetime
from monitor.models import AlertState, Article, Hit
from monitor.rules.text import index_article
from monitor.stories import pack

ARTICLE_COLUMNS = (
    "id", "url", "guid", "source", "title", "teaser", "text", "summary", "published", "fetched",
    "language", "story", "matched", "fingerprint", "content_hash",
)  # fmt: skip
_HIT_COLUMNS = ("article_id", "rule", "term", "field", "start", "end", "snippet")
_NEW_SEQS = "SELECT json_group_object(id, seq) FROM articles WHERE seq > ?"
# The stories of a batch just stored that now have more than one article (bulk.py: json_each).
_MARK_SHARED = (
    "UPDATE articles SET shared = 1 WHERE shared = 0 AND story IN (SELECT story FROM articles "
    "WHERE story IN (SELECT value FROM json_each(?)) GROUP BY story HAVING count(*) > 1)"
)
_INDEX_UPDATE = "UPDATE articles_fts SET title = ?, body = ? WHERE rowid = ?"
_INSERT_ARTICLE = (
    f"INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}) VALUES ({', '.join('?' * len(ARTICLE_COLUMNS))})"
)


def _index_values(seq: int, article: Article) -> tuple[int, str, str]:
    title, body = article.index_text or index_article(article.title, article.teaser, article.text)
    return seq, title, body


def insert_hits(connection: Connection, found: Sequence[tuple[str, Hit]]) -> None:
    """Hits, each with the id of its article."""
    rows = [(article_id, h.rule, h.term, h.field, h.start, h.end, h.snippet) for article_id, h in found]
    insert_rows(connection, "hits", _HIT_COLUMNS, rows)


def unstored(connection: Connection, batch: Sequence[Article]) -> list[Article]:
    """The articles of the batch whose id and URL are not stored yet (the first of the batch's
    own repeats)."""
    taken: set[str] = set()
    for start in range(0, len(batch), 5000):
        part = batch[start : start + 5000]
        taken.update(
            connection.execute(select(articles.c.id).where(articles.c.id.in_([a.id for a in part]))).scalars()
        )
        taken.update(
            connection.execute(
                select(articles.c.url).where(articles.c.url.in_([a.url for a in part]))
            ).scalars()
        )
    fresh: list[Article] = []
    for article in batch:
        if article.id not in taken and article.url not in taken:
            taken.update((article.id, article.url))
            fresh.append(article)
    return fresh


def insert_articles(connection: Connection, batch: Sequence[Article]) -> None:
    """Insert new articles (see `unstored`) with their hits, index rows and publication marks,
    and mark the stories they made shared: a statement per table for the whole batch (bulk.py
    says why)."""
    if not batch:
        return
    before = connection.execute(select(func.max(articles.c.seq))).scalar() or 0
    # Executemany (a GIL round trip an article): JSON cannot carry the fingerprints' bytes.
    connection.exec_driver_sql(_INSERT_ARTICLE, [_article_values(article) for article in batch])
    # Inside the write transaction the new rows are exactly those past the old largest seq.
    new_rows = connection.exec_driver_sql(_NEW_SEQS, (before,)).scalar_one()
    seqs: dict[str, int] = json.loads(new_rows)
    connection.exec_driver_sql(_MARK_SHARED, (json.dumps(sorted({article.story for article in batch})),))
    _mark_publication(connection, sorted((seqs[article.id], article.published) for article in batch))
    insert_hits(connection, [(article.id, hit) for article in batch for hit in article.hits])
    index_rows = [_index_values(seqs[article.id], article) for article in batch]
    insert_rows(connection, "articles_fts", ("rowid", "title", "body"), index_rows)


def _mark_publication(connection: Connection, stored: Sequence[tuple[int, datetime]]) -> None:
    """Raise the publication marks (tables.publication_marks) of the blocks that articles just
    stored, (seq, published) in storing order, fall in: new seqs are past every stored one, so
    the running maximum starts from the last block's mark."""
    last = select(publication_marks.c.latest).order_by(publication_marks.c.block.desc()).limit(1)
    latest = connection.execute(last).scalar()
    marks: dict[int, datetime] = {}
    for seq, published in stored:
        latest = published if latest is None else max(latest, published)
        marks[seq // MARK_BLOCK] = latest
    upsert = sqlite_insert(publication_marks)
    higher = func.max(publication_marks.c.latest, upsert.excluded.latest)
    connection.execute(
        upsert.on_conflict_do_update(index_elements=["block"], set_={"latest": higher}),
        [{"block": block, "latest": latest} for block, latest in marks.items()],
    )


def _article_values(article: Article) -> tuple[object, ...]:
    return (
        article.id, article.url, article.guid, article.source, article.title, article.teaser,
        article.text, article.summary, stored_datetime(article.published),
        stored_datetime(article.fetched), article.language, article.story,
        1 if article.hits else 0, pack(article.fingerprint) if article.fingerprint else None,
        article.content_hash,
    )  # fmt: skip


def update_article(connection: Connection, article: Article) -> tuple[str, set[str]] | None:
    """Replace a stored article's text, summary, hits and index row with a new version.

    Its story, publication and fetch times stay. Returns the story and the rules the new
    version matches that the old one did not (only those may alert again); None when the
    article is not stored. An article once matched stays matched: alerts point at it.
    """
    row = connection.execute(
        select(articles.c.seq, articles.c.story, articles.c.matched).where(articles.c.id == article.id)
    ).first()
    if row is None:
        return None
    old_rules = set(connection.execute(select(hits.c.rule).where(hits.c.article_id == article.id)).scalars())
    connection.execute(
        update(articles)
        .where(articles.c.id == article.id)
        .values(
            title=article.title,
            teaser=article.teaser,
            text=article.text,
            summary=article.summary,
            language=article.language,
            matched=1 if article.hits or row.matched else 0,
            fingerprint=pack(article.fingerprint) if article.fingerprint else None,
            content_hash=article.content_hash,
        )
    )
    connection.execute(hits.delete().where(hits.c.article_id == article.id))
    insert_hits(connection, [(article.id, hit) for hit in article.hits])
    _, title, body = _index_values(row.seq, article)
    connection.exec_driver_sql(_INDEX_UPDATE, (title, body, row.seq))
    return row.story, set(article.rules) - old_rules


_ALERT_COLUMNS = ("id", "alert", "channel", "story", "article_id", "rules", "state", "attempts", "created")


def insert_alerts(connection: Connection, rows: Sequence[tuple[OutboxRow, datetime]]) -> None:
    """Outbox rows, each with its creation time; none for an alert that already has a row for
    the story."""
    values = [_alert_values(row, created) for row, created in rows]
    insert_rows(connection, "alerts", _ALERT_COLUMNS, values, on_conflict="ON CONFLICT DO NOTHING")


def _alert_values(row: OutboxRow, created: datetime) -> tuple[Value, ...]:
    rules = json.dumps(list(row.rules))
    return (
        row.id, row.alert, row.channel, row.story, row.article_id, rules, AlertState.PENDING.value, 0,
        stored_datetime(created),
    )  # fmt: skip
