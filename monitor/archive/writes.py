"""The archive's writes of articles and alert rows, on the driver cursor of SqlArchive's
storing transactions (connections.py says why)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from monitor.archive import OutboxRow
from monitor.archive.bulk import IN_JSON, Value, insert_rows, json_list
from monitor.archive.tables import MARK_BLOCK, stored_datetime
from monitor.models import AlertState, Article, Hit
from monitor.near_duplicates import pack
from monitor.rules.text import index_article

ARTICLE_COLUMNS = (
    "id", "url", "guid", "source", "title", "teaser", "text", "summary", "published", "fetched",
    "language", "story", "matched", "fingerprint", "content_hash",
)  # fmt: skip
_HIT_COLUMNS = ("article_id", "rule", "term", "field", "start", "end", "snippet")
_INSERT_ARTICLE = (
    f"INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}) VALUES ({', '.join('?' * len(ARTICLE_COLUMNS))})"
)
_IDS_TAKEN = f"SELECT id FROM articles WHERE id IN {IN_JSON}"
_URLS_TAKEN = f"SELECT url FROM articles WHERE url IN {IN_JSON}"
_LAST_SEQ = "SELECT max(seq) FROM articles"
_NEW_SEQS = "SELECT json_group_object(id, seq) FROM articles WHERE seq > ?"
# The stories of a batch just stored that now have more than one article.
_MARK_SHARED = (
    "UPDATE articles SET shared = 1 WHERE shared = 0 AND story IN (SELECT story FROM articles "
    f"WHERE story IN {IN_JSON} GROUP BY story HAVING count(*) > 1)"
)
_LAST_MARK = "SELECT latest FROM publication_marks ORDER BY block DESC LIMIT 1"
_HIGHER_MARK = "ON CONFLICT (block) DO UPDATE SET latest = max(latest, excluded.latest)"
_STORED = "SELECT seq, story, matched FROM articles WHERE id = ?"
_RULES_HIT = "SELECT rule FROM hits WHERE article_id = ?"
_NEW_VERSION = (
    "UPDATE articles SET title = ?, teaser = ?, text = ?, summary = ?, language = ?, matched = ?, "
    "fingerprint = ?, content_hash = ?, revised = ? WHERE id = ?"
)
_DROP_HITS = "DELETE FROM hits WHERE article_id = ?"
_INDEX_UPDATE = "UPDATE articles_fts SET title = ?, body = ? WHERE rowid = ?"


def _index_values(seq: int, article: Article) -> tuple[int, str, str]:
    title, body = article.index_text or index_article(article.title, article.teaser, article.text)
    return seq, title, body


def insert_hits(cursor: sqlite3.Cursor, found: Sequence[tuple[str, Hit]]) -> None:
    """Hits, each with the id of its article."""
    rows = [(article_id, h.rule, h.term, h.field, h.start, h.end, h.snippet) for article_id, h in found]
    insert_rows(cursor, "hits", _HIT_COLUMNS, rows)


def unstored(cursor: sqlite3.Cursor, batch: Sequence[Article]) -> list[Article]:
    """The articles of the batch whose id and URL are not stored yet (the first of the batch's
    own repeats)."""
    taken = {id_ for (id_,) in cursor.execute(_IDS_TAKEN, (json_list([a.id for a in batch]),))}
    taken.update(url for (url,) in cursor.execute(_URLS_TAKEN, (json_list([a.url for a in batch]),)))
    return not_taken(batch, taken)


def rows_of_stored(
    outbox: Sequence[OutboxRow], stored: dict[str, Article]
) -> list[tuple[OutboxRow, datetime]]:
    """The outbox rows of the articles stored (by id), each naming its article's story (which
    grouping may have changed), with the article's fetch time as their creation."""
    return [
        (replace(row, story=stored[row.article_id].story), stored[row.article_id].fetched)
        for row in outbox
        if row.article_id in stored
    ]


def rows_of_update(
    outbox: Sequence[OutboxRow], article: Article, story: str, new_rules: set[str]
) -> list[tuple[OutboxRow, datetime]]:
    """The outbox rows of a new version of an article: only for rules it newly matches."""
    return [
        (replace(row, story=story), article.fetched)
        for row in outbox
        if row.article_id == article.id and new_rules & set(row.rules)
    ]


def not_taken(batch: Sequence[Article], taken: set[str]) -> list[Article]:
    """The articles whose id and URL are neither among `taken` (those stored) nor an earlier
    article's of the batch."""
    fresh: list[Article] = []
    for article in batch:
        if article.id not in taken and article.url not in taken:
            taken.update((article.id, article.url))
            fresh.append(article)
    return fresh


def insert_articles(cursor: sqlite3.Cursor, batch: Sequence[Article]) -> None:
    """Insert new articles (see `unstored`) with their hits, index rows and publication marks,
    and mark the stories they made shared: a statement per table for the whole batch (bulk.py
    says why)."""
    if not batch:
        return
    before = cursor.execute(_LAST_SEQ).fetchone()[0] or 0
    # Executemany (a GIL round trip an article): JSON cannot carry the fingerprints' bytes.
    cursor.executemany(_INSERT_ARTICLE, [_article_values(article) for article in batch])
    # Inside the write transaction the new rows are exactly those past the old largest seq.
    seqs: dict[str, int] = json.loads(cursor.execute(_NEW_SEQS, (before,)).fetchone()[0])
    cursor.execute(_MARK_SHARED, (json_list(sorted({article.story for article in batch})),))
    _mark_publication(cursor, sorted((seqs[article.id], article.published) for article in batch))
    insert_hits(cursor, [(article.id, hit) for article in batch for hit in article.hits])
    index_rows = [_index_values(seqs[article.id], article) for article in batch]
    insert_rows(cursor, "articles_fts", ("rowid", "title", "body"), index_rows)


def _mark_publication(cursor: sqlite3.Cursor, stored: Sequence[tuple[int, datetime]]) -> None:
    """Raise the publication marks (tables.publication_marks) of the blocks that articles just
    stored, (seq, published) in storing order, fall in: new seqs are past every stored one, so
    the running maximum starts from the last block's mark. (Stored datetimes sort as text.)"""
    last = cursor.execute(_LAST_MARK).fetchone()
    latest: str | None = last[0] if last else None
    marks: dict[int, str] = {}
    for seq, published in stored:
        value = stored_datetime(published)
        latest = value if latest is None else max(latest, value)
        marks[seq // MARK_BLOCK] = latest
    insert_rows(cursor, "publication_marks", ("block", "latest"), list(marks.items()), _HIGHER_MARK)


def _article_values(article: Article) -> tuple[object, ...]:
    return (
        article.id, article.url, article.guid, article.source, article.title, article.teaser,
        article.text, article.summary, stored_datetime(article.published),
        stored_datetime(article.fetched), article.language, article.story,
        1 if article.hits else 0, pack(article.fingerprint) if article.fingerprint else None,
        article.content_hash,
    )  # fmt: skip


def update_article(cursor: sqlite3.Cursor, article: Article) -> tuple[str, set[str]] | None:
    """Replace a stored article's text, summary, hits and index row with a new version.

    Its story, publication and fetch times stay; the new version's fetch is when it was
    revised. Returns the story and the rules the new version matches that the old one did not
    (only those may alert again); None when the article is not stored. An article once matched
    stays matched: alerts point at it.
    """
    row = cursor.execute(_STORED, (article.id,)).fetchone()
    if row is None:
        return None
    seq, story, matched = row
    old_rules = {rule for (rule,) in cursor.execute(_RULES_HIT, (article.id,))}
    print_ = pack(article.fingerprint) if article.fingerprint else None
    cursor.execute(
        _NEW_VERSION,
        (
            article.title, article.teaser, article.text, article.summary, article.language,
            1 if article.hits or matched else 0, print_, article.content_hash,
            stored_datetime(article.fetched), article.id,
        ),
    )  # fmt: skip
    cursor.execute(_DROP_HITS, (article.id,))
    insert_hits(cursor, [(article.id, hit) for hit in article.hits])
    _, title, body = _index_values(seq, article)
    cursor.execute(_INDEX_UPDATE, (title, body, seq))
    return story, set(article.rules) - old_rules


_ALERT_COLUMNS = ("id", "alert", "channel", "story", "article_id", "rules", "state", "attempts", "created")


def insert_alerts(cursor: sqlite3.Cursor, rows: Sequence[tuple[OutboxRow, datetime]]) -> None:
    """Outbox rows, each with its creation time; none for an alert that already has a row for
    the story."""
    values = [_alert_values(row, created) for row, created in rows]
    insert_rows(cursor, "alerts", _ALERT_COLUMNS, values, on_conflict="ON CONFLICT DO NOTHING")


def _alert_values(row: OutboxRow, created: datetime) -> tuple[Value, ...]:
    rules = json.dumps(list(row.rules))
    return (
        row.id, row.alert, row.channel, row.story, row.article_id, rules, AlertState.PENDING.value, 0,
        stored_datetime(created),
    )  # fmt: skip
