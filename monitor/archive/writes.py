"""The archive's writes of articles and alert rows, used inside SqlArchive's transactions."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.archive import OutboxRow
from monitor.archive.rows import hit_values
from monitor.archive.tables import alerts, articles, hits
from monitor.models import AlertState, Article
from monitor.rules.text import index_text
from monitor.stories import pack

_INDEX_INSERT = text("INSERT INTO articles_fts(rowid, title, body) VALUES (:seq, :title, :body)")
_INDEX_UPDATE = text("UPDATE articles_fts SET title = :title, body = :body WHERE rowid = :seq")


def _index_values(seq: object, article: Article) -> dict[str, object]:
    title, body = article.index_text or (
        index_text(article.title),
        index_text(f"{article.teaser}\n{article.text}"),
    )
    return {"seq": seq, "title": title, "body": body}


def insert_article(connection: Connection, article: Article) -> bool:
    """Insert a new article with its hits and index row; False if its id is already stored."""
    statement = sqlite_insert(articles).values(
        id=article.id,
        url=article.url,
        guid=article.guid,
        source=article.source,
        title=article.title,
        teaser=article.teaser,
        text=article.text,
        summary=article.summary,
        published=article.published,
        fetched=article.fetched,
        language=article.language,
        story=article.story,
        matched=1 if article.hits else 0,
        fingerprint=pack(article.fingerprint) if article.fingerprint else None,
        content_hash=article.content_hash,
    )
    result = connection.execute(statement.on_conflict_do_nothing())
    if result.rowcount != 1:
        return False
    seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if article.hits:
        connection.execute(hits.insert(), [hit_values(article.id, hit) for hit in article.hits])
    connection.execute(_INDEX_INSERT, _index_values(seq, article))
    return True


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


def insert_alert(connection: Connection, row: OutboxRow, created: datetime) -> None:
    """An outbox row; nothing when this alert already has a row for the story."""
    statement = sqlite_insert(alerts).values(
        id=row.id,
        alert=row.alert,
        channel=row.channel,
        story=row.story,
        article_id=row.article_id,
        rules=json.dumps(list(row.rules)),
        state=AlertState.PENDING.value,
        attempts=0,
        created=created,
    )
    connection.execute(statement.on_conflict_do_nothing())
