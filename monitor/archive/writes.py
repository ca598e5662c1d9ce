"""The archive's writes of articles and alert rows, used inside SqlArchive's transactions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.archive import OutboxRow
from monitor.archive.rows import hit_values
from monitor.archive.tables import MARK_BLOCK, alerts, articles, hits, publication_marks
from monitor.models import AlertState, Article
from monitor.rules.text import index_article
from monitor.stories import pack

_INDEX_INSERT = text("INSERT INTO articles_fts(rowid, title, body) VALUES (:seq, :title, :body)")
_INDEX_UPDATE = text("UPDATE articles_fts SET title = :title, body = :body WHERE rowid = :seq")


def _index_values(seq: object, article: Article) -> dict[str, object]:
    title, body = article.index_text or index_article(article.title, article.teaser, article.text)
    return {"seq": seq, "title": title, "body": body}


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
    """Insert new articles (see `unstored`) with their hits and index rows: a statement per
    table for the whole batch."""
    if not batch:
        return
    before = connection.execute(select(func.max(articles.c.seq))).scalar() or 0
    connection.execute(articles.insert(), [_article_values(article) for article in batch])
    # Inside the write transaction the new rows are exactly those past the old largest seq.
    new_rows = connection.execute(select(articles.c.id, articles.c.seq).where(articles.c.seq > before))
    seqs = {row.id: row.seq for row in new_rows}
    _mark_publication(connection, sorted((seqs[article.id], article.published) for article in batch))
    hit_rows = [hit_values(article.id, hit) for article in batch for hit in article.hits]
    if hit_rows:
        connection.execute(hits.insert(), hit_rows)
    connection.execute(_INDEX_INSERT, [_index_values(seqs[article.id], article) for article in batch])


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


def _article_values(article: Article) -> dict[str, object]:
    return {
        "id": article.id,
        "url": article.url,
        "guid": article.guid,
        "source": article.source,
        "title": article.title,
        "teaser": article.teaser,
        "text": article.text,
        "summary": article.summary,
        "published": article.published,
        "fetched": article.fetched,
        "language": article.language,
        "story": article.story,
        "matched": 1 if article.hits else 0,
        "fingerprint": pack(article.fingerprint) if article.fingerprint else None,
        "content_hash": article.content_hash,
    }


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
    if article.hits:
        connection.execute(hits.insert(), [hit_values(article.id, hit) for hit in article.hits])
    connection.execute(_INDEX_UPDATE, _index_values(row.seq, article))
    return row.story, set(article.rules) - old_rules


def insert_alerts(connection: Connection, rows: Sequence[tuple[OutboxRow, datetime]]) -> None:
    """Outbox rows, each with its creation time; none for an alert that already has a row for
    the story."""
    if rows:
        connection.execute(
            sqlite_insert(alerts).on_conflict_do_nothing(),
            [
                {
                    "id": row.id,
                    "alert": row.alert,
                    "channel": row.channel,
                    "story": row.story,
                    "article_id": row.article_id,
                    "rules": json.dumps(list(row.rules)),
                    "state": AlertState.PENDING.value,
                    "attempts": 0,
                    "created": created,
                }
                for row, created in rows
            ],
        )
