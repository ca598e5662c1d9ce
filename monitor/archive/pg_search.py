"""Search reads of the PostgreSQL archive, on psycopg's cursor: candidates from the tsvector
index (pg_text.py), newest first, verified by the matcher unless the index's answer is exact.

PostgreSQL orders by publication itself (an index on (published, seq) read backwards for a
common word, the GIN index and a sort for a rare one: its planner picks by the word's
frequency), so the search reads chunks in search order and stops at the limit. Rows have the
columns of `articles` in tables.py's order, as on SQLite (search_sql.py), so that both backends
turn rows into articles with the same code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from monitor.archive import SearchFilters
from monitor.archive.pg_text import MARKED
from monitor.archive.search_sql import FIRST_CHUNK, LARGEST_CHUNK, ArticleRow, archived_rows, verifies
from monitor.archive.tables import articles
from monitor.models import ArchivedArticle
from monitor.rules.match import Evaluator

Cursor = psycopg.Cursor[Any]
_NAMES = [column.name for column in articles.c]
_SEQ, _PUBLISHED = _NAMES.index("seq"), _NAMES.index("published")
_ROW = ", ".join(f'articles."{name}"' for name in _NAMES)
_ORDER = "ORDER BY articles.published DESC, articles.seq DESC LIMIT %s"
_AFTER = " AND (articles.published, articles.seq) < (%s, %s)"
_HITS = (
    'SELECT article_id, rule, term, field, start, "end", snippet FROM hits '
    "WHERE article_id = ANY(%s) ORDER BY id"
)
_COPIES = "SELECT story, id, source, url FROM articles WHERE story = ANY(%s) ORDER BY fetched, seq"


def naive_utc(value: datetime) -> datetime:
    """A datetime as the archive's `timestamp` columns hold it: UTC, without a zone (an aware
    one would be converted by the session's time zone)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the archive")
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"


def filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """`AND ...` conditions on `articles` for the search filters (all but the query and the
    limit), with their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.since:
        clauses.append("articles.published >= %s")
        params.append(naive_utc(filters.since))
    if filters.until:
        clauses.append("articles.published <= %s")
        params.append(naive_utc(filters.until))
    if filters.fetched_since:
        clauses.append("articles.fetched >= %s")
        params.append(naive_utc(filters.fetched_since))
    if filters.sources:
        clauses.append("articles.source = ANY(%s)")
        params.append(list(filters.sources))
    if filters.language:
        language = filters.language.lower()
        clauses.append("(lower(articles.language) = %s OR lower(articles.language) LIKE %s)")
        params += [language, _like_prefix(language)]
    if filters.matched:
        clauses.append("articles.matched = 1")
    if filters.rules:
        clauses.append(
            "EXISTS (SELECT 1 FROM hits WHERE hits.article_id = articles.id AND hits.rule = ANY(%s))"
        )
        params.append(list(filters.rules))
    return "".join(f" AND {clause}" for clause in clauses), params


def newest_matches(
    cursor: Cursor, index_query: str, filters: SearchFilters, query: Evaluator, exact: bool
) -> list[ArticleRow]:
    """The newest articles (by publication) that the index query matches, pass the filters and
    the matcher, at most `filters.limit`, newest first. With `exact`, the index's answer is the
    matcher's (search.index_exact) and only articles whose index is incomplete are verified."""
    if filters.limit <= 0:
        return []
    conditions, params = filter_sql(filters)
    found: list[ArticleRow] = []
    after: tuple[datetime, int] | None = None
    count = filters.limit if exact else max(FIRST_CHUNK, filters.limit)
    while True:
        statement = (
            f"SELECT {_ROW}, articles.search @@ %s::tsquery FROM articles "
            f"WHERE articles.search @@ %s::tsquery{conditions}{_AFTER if after else ''} {_ORDER}"
        )
        rows = cursor.execute(statement, [MARKED, index_query, *params, *(after or ()), count]).fetchall()
        for *columns, incomplete in rows:
            row = tuple(columns)
            if (exact and not incomplete) or verifies(query, row):
                found.append(row)
                if len(found) >= filters.limit:
                    return found
        if len(rows) < count:
            return found
        last = rows[-1]
        after, count = (last[_PUBLISHED], last[_SEQ]), min(count * 2, LARGEST_CHUNK)


def newest_of_all(cursor: Cursor, filters: SearchFilters) -> Iterator[ArticleRow]:
    """Every article that passes the filters, newest first, read in chunks as it is consumed."""
    conditions, params = filter_sql(filters)
    after: tuple[datetime, int] | None = None
    count = FIRST_CHUNK
    while True:
        statement = f"SELECT {_ROW} FROM articles WHERE true{conditions}{_AFTER if after else ''} {_ORDER}"
        rows = cursor.execute(statement, [*params, *(after or ()), count]).fetchall()
        yield from rows
        if len(rows) < count:
            return
        after, count = (rows[-1][_PUBLISHED], rows[-1][_SEQ]), min(count * 2, LARGEST_CHUNK)


def article_row(cursor: Cursor, article_id: str) -> ArticleRow | None:
    row: ArticleRow | None = cursor.execute(
        f"SELECT {_ROW} FROM articles WHERE id = %s", (article_id,)
    ).fetchone()
    return row


def archived(cursor: Cursor, rows: Sequence[ArticleRow]) -> list[ArchivedArticle]:
    """Rows of articles as archived articles, with their hits and copies."""
    return archived_rows(
        rows,
        lambda ids: cursor.execute(_HITS, (ids,)).fetchall(),
        lambda stories: cursor.execute(_COPIES, (stories,)).fetchall(),
        _aware,
    )
