"""Search reads of the PostgreSQL archive, on psycopg's cursor: candidates from the tsvector
index (pg_text.py), newest first, verified by the matcher unless the index's answer is exact.

Two ways to the newest matches, and the search picks by how many articles the index query
matches (the planner's estimate, from the words' frequencies it keeps: pg_estimate.py):
- many (a common word): read the articles newest first and keep those matching, which stops
  after a few hundred;
- few (a rare phrase, a Chinese term): all the matches from the GIN index, sorted.
PostgreSQL's planner would pick by the same estimate, but counts testing one article's
tsvector as nearly free, where it is a few microseconds: left alone, it reads a million
articles newest first for a phrase found in one. Past the crossover (matches squared against
the limit times the archive's size) the GIN way is taken apart from the ordering, in a
MATERIALIZED common table expression the planner cannot merge with it.

Articles whose index has gaps (pg_text.py: a very long text) are candidates in the same
statement, through an index of their own (the planner ORs its bitmap with the GIN index's), with
phrases loosened to their words, and are verified by the matcher unless the query needs none of
what their index lacks. What a NOT refuses exactly is left out by a condition on each row's
tsvector (pg_text.index_ask), which costs microseconds where the matcher tokenized the text.
Rows have the columns of `articles` in tables.py's order, as on SQLite (search_sql.py), so that
both backends turn rows into articles with the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from monitor.archive import SearchFilters
from monitor.archive.pg_estimate import IndexStatistics
from monitor.archive.pg_text import NO_GAPS, WORDS, IndexAsk
from monitor.archive.search_sql import (
    FIRST_CHUNK,
    HITS_AT_ONCE,
    LARGEST_CHUNK,
    LAST_SEQ,
    ArticleRow,
    archived_rows,
    latest_matched,
    like_prefix,
    newest_hits,
    verifies,
)
from monitor.archive.tables import articles
from monitor.archive.time_limits import Deadline
from monitor.models import ArchivedArticle
from monitor.rules.match import Evaluator

Cursor = psycopg.Cursor[Any]
_NAMES = [column.name for column in articles.c]
_SEQ, _ID, _PUBLISHED = _NAMES.index("seq"), _NAMES.index("id"), _NAMES.index("published")
_ROW = ", ".join(f'articles."{name}"' for name in _NAMES)
_ROW_AND_GAPS = f"{_ROW}, articles.search_gaps"  # what the article's index lacks: verify it if any
_NEWEST_FIRST = "ORDER BY articles.published DESC, articles.seq DESC"
_ORDER = f"{_NEWEST_FIRST} LIMIT %s"
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
        params += [language, like_prefix(language)]
    if filters.after:
        # An article purged since the page was read: all of its second, some perhaps again.
        clauses.append(
            "(articles.published, articles.seq) < (%s, coalesce((SELECT seq FROM articles AS shown "
            f"WHERE shown.id = %s), {LAST_SEQ}))"
        )
        params += [naive_utc(filters.after[0]), filters.after[1]]
    if filters.matched:
        clauses.append("articles.matched = 1")
    if filters.rules:
        clauses.append(
            "EXISTS (SELECT 1 FROM hits WHERE hits.article_id = articles.id AND hits.rule = ANY(%s))"
        )
        params.append(list(filters.rules))
    return "".join(f" AND {clause}" for clause in clauses), params


# Reading newest first tests a few articles per match found; sorting the GIN index's matches
# costs about the same per match: a search reading `limit` of `matches` in `total` articles
# tests limit * total / matches articles one way, and reads `matches` the other.
_CROSSOVER = 2.0


def newest_matches(
    cursor: Cursor,
    index_query: str,
    ask: IndexAsk,
    filters: SearchFilters,
    query: Evaluator,
    statistics: IndexStatistics,
    deadline: Deadline,
) -> list[ArticleRow]:
    """The newest articles (by publication) the query matches that pass the filters, at most
    `filters.limit`, newest first: candidates of `index_query` (ask.asked), and the articles
    whose index has gaps, candidates of `ask.loose` (None: all of them), less what the index
    refuses (`ask.refused`), each verified unless its kind of gaps is one the index answers
    exactly. `statistics`: the index's, to estimate how many articles the index query matches.
    SearchTooSlow when a chunk is due after the deadline."""
    if filters.limit <= 0:
        return []
    conditions, params = filter_sql(filters)
    refusal, refused_params = _refusal_sql(ask.refused)
    # One statement for both kinds of candidates: the articles with gaps are few, and a second
    # statement cost a round trip as long as a rare phrase's search.
    with_gaps = f"articles.search_gaps > {NO_GAPS}"
    loose_params = []
    if ask.loose is not None:
        with_gaps += f" AND (articles.search_gaps = {WORDS} OR articles.search @@ %s::tsquery)"
        loose_params = [ask.loose]
    where = f"(articles.search @@ %s::tsquery OR ({with_gaps})){refusal}{conditions}"
    few = _few_matches(statistics, index_query, filters.limit)
    every = [index_query, *loose_params, *refused_params, *params]
    first = filters.limit if ask.exact else max(FIRST_CHUNK, filters.limit)  # more when some are refused
    rows = _in_search_order(cursor, where, every, first, deadline, few)
    return _accepted(rows, ask.exact, query, filters.limit)


def _refusal_sql(refused: str | None) -> tuple[str, list[Any]]:
    """`AND NOT (...)` leaving out the articles missing no words whose index holds what the query
    refuses (the tsquery `refused`), and its parameters."""
    if refused is None:
        return "", []
    return f" AND NOT (articles.search_gaps < {WORDS} AND articles.search @@ %s::tsquery)", [refused]


def _accepted(
    rows: Iterable[ArticleRow], exact: frozenset[int], query: Evaluator | None, limit: int
) -> list[ArticleRow]:
    """The first `limit` rows (of an article's columns, then its gaps) the query matches: those
    whose gaps are of a kind the index answers `exact`ly as read, the others verified."""
    found: list[ArticleRow] = []
    for row in rows:
        article, gaps = row[:-1], row[-1]
        if query is None or gaps in exact or verifies(query, article):
            found.append(article)
            if len(found) >= limit:
                break
    return found


def _few_matches(statistics: IndexStatistics, index_query: str, limit: int) -> bool:
    """Whether the index query matches few enough articles that reading them all from the GIN
    index beats reading the archive newest first (the module's docstring says why)."""
    matches = statistics.matches(index_query)
    return matches * matches < _CROSSOVER * limit * statistics.total


def _in_search_order(
    cursor: Cursor, where: str, params: list[Any], first: int, deadline: Deadline, all_first: bool = False
) -> Iterator[ArticleRow]:
    """The articles meeting the condition, newest first, read as consumed in chunks growing
    from `first`. With `all_first`, each chunk finds every article meeting the condition (from
    the GIN index, when the condition is a few articles' tsquery) before sorting them: a
    MATERIALIZED common table expression is planned apart from the ORDER BY ... LIMIT, so the
    planner cannot read the archive newest first instead (the module's docstring says why)."""
    after: tuple[datetime, int] | None = None
    count = first
    while True:
        deadline.check()  # each statement is bounded by the reader's statement_timeout; all of them here
        later = _AFTER if after else ""
        if all_first:
            statement = (
                f"WITH matching AS MATERIALIZED (SELECT articles.seq, articles.published FROM articles "
                f"WHERE {where}) SELECT {_ROW_AND_GAPS} FROM (SELECT seq FROM matching AS articles "
                f"WHERE true{later} {_ORDER}) AS newest JOIN articles USING (seq) {_NEWEST_FIRST}"
            )
        else:
            statement = f"SELECT {_ROW_AND_GAPS} FROM articles WHERE {where}{later} {_ORDER}"
        rows = cursor.execute(statement, [*params, *(after or ()), count]).fetchall()
        yield from rows
        if len(rows) < count:
            return
        after, count = (rows[-1][_PUBLISHED], rows[-1][_SEQ]), min(count * 2, LARGEST_CHUNK)


def newest_of_all(
    cursor: Cursor, ask: IndexAsk | None, filters: SearchFilters, query: Evaluator | None, deadline: Deadline
) -> list[ArticleRow]:
    """The newest articles that pass the filters and the query, which the index cannot narrow
    (`NOT sport`, `source:x`, none), at most `filters.limit`: read newest first in chunks as
    they are consumed, less what the index refuses (`ask.refused`), each verified unless the
    index answers exactly for its kind of gaps. SearchTooSlow when a chunk is due after the
    deadline."""
    if filters.limit <= 0:
        return []
    conditions, params = filter_sql(filters)
    refusal, refused_params = _refusal_sql(ask.refused if ask else None)
    where, every = f"true{refusal}{conditions}", [*refused_params, *params]
    rows = _in_search_order(cursor, where, every, FIRST_CHUNK, deadline)
    return _accepted(rows, ask.exact if ask else frozenset(), query, filters.limit)


def article_rows(cursor: Cursor, article_ids: Sequence[str]) -> list[ArticleRow]:
    return cursor.execute(f"SELECT {_ROW} FROM articles WHERE id = ANY(%s)", (list(article_ids),)).fetchall()


_RULE_HITS = "SELECT id, article_id FROM hits WHERE rule = %s AND id < %s ORDER BY id DESC LIMIT %s"
_ANY_HITS = "SELECT id, article_id FROM hits WHERE id < %s ORDER BY id DESC LIMIT %s"
_ROWS_OF = f"SELECT {_ROW} FROM articles WHERE id = ANY(%s)"


def rule_arrivals(cursor: Cursor, rules: Sequence[str] | None, limit: int) -> list[ArchivedArticle]:
    """Archive.rule_arrivals on PostgreSQL (search_sql.rule_arrivals)."""

    def hits_below(below: int) -> list[tuple[int, str]]:
        if rules is None:
            return cursor.execute(_ANY_HITS, (below, HITS_AT_ONCE)).fetchall()
        return newest_hits(
            cursor.execute(_RULE_HITS, (rule, below, HITS_AT_ONCE)).fetchall() for rule in rules
        )

    ids = latest_matched(hits_below, limit)
    rows = {row[_ID]: row for row in cursor.execute(_ROWS_OF, (ids,)).fetchall()} if ids else {}
    return archived(cursor, [rows[id_] for id_ in ids if id_ in rows])


def archived(cursor: Cursor, rows: Sequence[ArticleRow]) -> list[ArchivedArticle]:
    """Rows of articles as archived articles, with their hits and copies."""
    return archived_rows(
        rows,
        lambda ids: cursor.execute(_HITS, (ids,)).fetchall(),
        lambda stories: cursor.execute(_COPIES, (stories,)).fetchall(),
        _aware,
    )
