"""The PostgreSQL archive's writes of articles, hits, story band keys and alert rows, on
psycopg's cursor in a write transaction (writes.py is SQLite's).

Several daemons may store at once: an article another one stored a moment ago is skipped by
the insert itself (ON CONFLICT DO NOTHING), and only the rows it did insert get hits, band keys
and alerts. Two stores that may touch the same rows take turns (take_turns). Publication marks
are SQLite's search aid (search_sql.py); PostgreSQL orders by publication itself and keeps none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from monitor.archive import OutboxRow
from monitor.archive.pg_search import naive_utc
from monitor.archive.pg_text import search_vector
from monitor.archive.stories import MOST_PER_BAND
from monitor.archive.tables import stored_datetime
from monitor.archive.writes import ARTICLE_COLUMNS, not_taken
from monitor.models import AlertState, Article, Hit
from monitor.near_duplicates import band_keys, pack
from monitor.rules.text import index_article

Cursor = psycopg.Cursor[Any]
_TYPES = (
    "text", "text", "text", "text", "text", "text", "text", "text", "timestamp", "timestamp",
    "text", "text", "integer", "bytea", "text", "tsvector", "smallint",
)  # fmt: skip
_COLUMNS = (*ARTICLE_COLUMNS, "search", "search_gaps")
# One statement for the batch: a column of values per array.
_INSERT_ARTICLES = (
    f"INSERT INTO articles ({', '.join(_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for kind in _TYPES)}) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
_INSERT_HIT = (
    'INSERT INTO hits (article_id, rule, term, field, start, "end", snippet) '
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_BANDS = (
    "INSERT INTO story_bands (band, article_id, fetched) "
    "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::timestamp[])"
)
_MARK_SHARED = (
    "UPDATE articles SET shared = 1 WHERE shared = 0 AND story IN (SELECT story FROM articles "
    "WHERE story = ANY(%s) GROUP BY story HAVING count(*) > 1)"
)
_INSERT_ALERT = (
    "INSERT INTO alerts (id, alert, channel, story, article_id, rules, state, attempts, created) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s) ON CONFLICT DO NOTHING"
)
_RECENT_IN_BANDS = (
    "SELECT band, article_id, fetched FROM (SELECT band, article_id, fetched, "
    "row_number() OVER (PARTITION BY band ORDER BY fetched DESC) AS recent FROM story_bands "
    f"WHERE band = ANY(%s) AND fetched >= %s) AS banded WHERE recent <= {MOST_PER_BAND}"
)
# One transaction lock per article id, URL and story band key of the batch, taken in the order of
# their keys (sorted in the subquery, which DISTINCT keeps from being merged into the outer one),
# after the archive's storing lock in shared mode. A batch with more names than MOST_TURNS (a
# first read of a long feed) takes the storing lock alone, exclusively: PostgreSQL's lock table
# is shared by the whole server (max_locks_per_transaction x max_connections, ~6,400 by default),
# and 32 articles would otherwise hold over 700 locks at once.
MOST_TURNS = 128  # a poll's 5 new articles, each with its id, URL and 21 band keys, take 115
# (and, once their stories are known, one lock per story: take_story_turns)
_STORING = "hashtextextended(current_schema() || '/storing', 0)"
_ALL_TURNS = f"SELECT pg_advisory_xact_lock({_STORING})"
_SHARED_TURN = f"SELECT pg_advisory_xact_lock_shared({_STORING})"
_TAKE_TURNS = (
    "SELECT pg_advisory_xact_lock(key) FROM (SELECT DISTINCT hashtextextended(current_schema() || "
    "'/storing/' || name, 0) AS key FROM unnest(%s::text[]) AS name ORDER BY key) AS keys"
)
_TAKEN = "SELECT id FROM articles WHERE id = ANY(%s) UNION ALL SELECT url FROM articles WHERE url = ANY(%s)"
_PRINTS = "SELECT id, story, fingerprint FROM articles WHERE id = ANY(%s) AND fingerprint IS NOT NULL"


class PostgresBands:
    """stories.BandIndex on psycopg's cursor of the storing transaction."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def recent_in_bands(self, bands: list[int], since: str) -> Iterable[tuple[int, str, str]]:
        since_time = datetime.fromisoformat(since)
        rows = self.cursor.execute(_RECENT_IN_BANDS, (bands, since_time)).fetchall()
        return [(band, id_, stored_datetime(fetched.replace(tzinfo=UTC))) for band, id_, fetched in rows]

    def prints(self, ids: list[str]) -> Iterable[tuple[str, str, bytes]]:
        return [(id_, story, bytes(print_)) for id_, story, print_ in self.cursor.execute(_PRINTS, (ids,))]


def take_turns(cursor: Cursor, batch: Sequence[Article]) -> bool:
    """Wait for the stores of other daemons that hold an article of the batch or a copy of one:
    those sharing an id, a URL or a story band key (copies of one story share one, which is how
    stories.assign_stories finds them). Until the transaction ends, a store sharing none runs
    beside this one, and one sharing any waits, then sees what this one stored: two copies
    stored at once join one story, with one alert. Every store takes its locks in one order
    (the storing lock first, then the keys'), so no two wait on each other; a large batch waits
    for every other store instead (MOST_TURNS says why), and then True: it has every turn."""
    names = {name for article in batch for name in (f"id/{article.id}", f"url/{article.url}")}
    names.update(
        f"band/{band}" for article in batch if article.fingerprint for band in band_keys(article.fingerprint)
    )
    if len(names) > MOST_TURNS:
        cursor.execute(_ALL_TURNS)
        return True
    cursor.execute(_SHARED_TURN)
    cursor.execute(_TAKE_TURNS, (sorted(names),))
    return False


def take_story_turns(cursor: Cursor, stories: Iterable[str]) -> None:
    """Wait for the other stores writing to one of these stories (marking it shared, inserting its
    alert rows), once the batch's stories are known: two copies may join one story through
    different band keys, and two such stores writing two stories in opposite orders would wait on
    each other's rows. Taken after take_turns, before any write, in key order: no cycle."""
    cursor.execute(_TAKE_TURNS, (sorted({f"story/{story}" for story in stories}),))


def unstored(cursor: Cursor, batch: Sequence[Article]) -> list[Article]:
    """The articles of the batch whose id and URL are not stored yet (the first of the batch's
    own repeats)."""
    ids, urls = [article.id for article in batch], [article.url for article in batch]
    return not_taken(batch, {value for (value,) in cursor.execute(_TAKEN, (ids, urls))})


def insert_articles(
    cursor: Cursor, batch: Sequence[Article], bands: Sequence[tuple[int, str, datetime]]
) -> list[Article]:
    """Insert new articles with their hits and band keys, and mark the stories they made
    shared; the articles inserted (those another daemon did not store first)."""
    if not batch:
        return []
    columns = [list(column) for column in zip(*map(_article_values, batch), strict=True)]
    inserted = {id_ for (id_,) in cursor.execute(_INSERT_ARTICLES, columns).fetchall()}
    stored = [article for article in batch if article.id in inserted]
    if not stored:
        return []
    cursor.execute(_MARK_SHARED, (sorted({article.story for article in stored}),))
    insert_hits(cursor, [(article.id, hit) for article in stored for hit in article.hits])
    kept = [(band, id_, naive_utc(fetched)) for band, id_, fetched in bands if id_ in inserted]
    if kept:
        cursor.execute(_INSERT_BANDS, [list(column) for column in zip(*kept, strict=True)])
    return stored


_COPY_COLUMNS = ("seq", *ARTICLE_COLUMNS, "shared", "revised", "search", "search_gaps")
_COPY_TYPES = ("integer", *_TYPES[:-2], "integer", "timestamp", "tsvector", "smallint")
_COPY_ARTICLES = (
    f"INSERT INTO articles ({', '.join(_COPY_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for kind in _COPY_TYPES)}) ON CONFLICT DO NOTHING"
)


def copy_articles(
    cursor: Cursor, rows: Sequence[Any], article_hits: Sequence[Any], bands: Sequence[Any]
) -> None:
    """Articles of another archive (rows of tables.articles, their seq kept), with their hits
    and band keys (rows of tables.hits and tables.story_bands), indexed as stored here."""
    values = []
    for row in rows:
        title, body = index_article(row.title, row.teaser, row.text)
        values.append(
            (
                row.seq, row.id, row.url, row.guid, row.source, row.title, row.teaser, row.text,
                row.summary, naive_utc(row.published), naive_utc(row.fetched), row.language,
                row.story, row.matched, row.fingerprint, row.content_hash, row.shared,
                naive_utc(row.revised) if row.revised else None, *search_vector(title, body),
            )
        )  # fmt: skip
    cursor.execute(_COPY_ARTICLES, [list(column) for column in zip(*values, strict=True)])
    if article_hits:
        cursor.executemany(
            _INSERT_HIT,
            [(h.article_id, h.rule, h.term, h.field, h.start, h.end, h.snippet) for h in article_hits],
        )
    if bands:
        columns = [
            [row.band for row in bands],
            [row.article_id for row in bands],
            [naive_utc(row.fetched) for row in bands],
        ]
        cursor.execute(_INSERT_BANDS, columns)


def _article_values(article: Article) -> tuple[object, ...]:
    title, body = article.index_text or index_article(article.title, article.teaser, article.text)
    return (
        article.id, article.url, article.guid, article.source, article.title, article.teaser,
        article.text, article.summary, naive_utc(article.published), naive_utc(article.fetched),
        article.language, article.story, 1 if article.hits else 0,
        pack(article.fingerprint) if article.fingerprint else None, article.content_hash,
        *search_vector(title, body),
    )  # fmt: skip


def insert_hits(cursor: Cursor, found: Sequence[tuple[str, Hit]]) -> None:
    """Hits, each with the id of its article."""
    if found:
        cursor.executemany(
            _INSERT_HIT,
            [(article_id, h.rule, h.term, h.field, h.start, h.end, h.snippet) for article_id, h in found],
        )


def update_article(cursor: Cursor, article: Article) -> tuple[str, set[str]] | None:
    """Replace a stored article's text, summary, hits and index with a new version (see
    writes.update_article, whose rules it keeps): its story and the rules newly matched, or
    None when the article is not stored."""
    row = cursor.execute(
        "SELECT story, matched FROM articles WHERE id = %s FOR UPDATE", (article.id,)
    ).fetchone()
    if row is None:
        return None
    story, matched = row
    old_rules = {
        rule for (rule,) in cursor.execute("SELECT rule FROM hits WHERE article_id = %s", (article.id,))
    }
    title, body = article.index_text or index_article(article.title, article.teaser, article.text)
    cursor.execute(
        "UPDATE articles SET title = %s, teaser = %s, text = %s, summary = %s, language = %s, "
        "matched = %s, fingerprint = %s, content_hash = %s, revised = %s, search = %s::tsvector, "
        "search_gaps = %s WHERE id = %s",
        (
            article.title, article.teaser, article.text, article.summary, article.language,
            1 if article.hits or matched else 0,
            pack(article.fingerprint) if article.fingerprint else None, article.content_hash,
            naive_utc(article.fetched), *search_vector(title, body), article.id,
        ),
    )  # fmt: skip
    cursor.execute("DELETE FROM hits WHERE article_id = %s", (article.id,))
    insert_hits(cursor, [(article.id, hit) for hit in article.hits])
    return story, set(article.rules) - old_rules


def insert_alerts(cursor: Cursor, rows: Sequence[tuple[OutboxRow, datetime]]) -> None:
    """Outbox rows, each with its creation time; none for an alert that already has a row for
    the story."""
    if rows:
        cursor.executemany(_INSERT_ALERT, [_alert_values(row, created) for row, created in rows])


def _alert_values(row: OutboxRow, created: datetime) -> tuple[object, ...]:
    rules = json.dumps(list(row.rules))
    pending = AlertState.PENDING.value
    return row.id, row.alert, row.channel, row.story, row.article_id, rules, pending, naive_utc(created)
