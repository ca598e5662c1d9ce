"""Query AST -> full-text index query, the one place that knows the index's syntax.

The index query only narrows candidates: it must find a superset of what the matcher accepts
(NOT, fields and proximity are left to the matcher, which verifies every candidate exactly).
`None` means the query cannot narrow anything and every article is a candidate.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, column, exists, func, or_, select, table, text

from monitor.archive import SearchFilters
from monitor.archive.tables import articles, hits
from monitor.rules import Field, MatchInput, Near, Node, Not, Op, Term
from monitor.rules.match import Evaluator, run
from monitor.rules.text import HEBREW_PREFIXES, is_hebrew


def _phrase(tokens: tuple[str, ...], prefix: bool) -> str:
    quoted = '"' + " ".join(token.replace('"', '""') for token in tokens) + '"'
    return quoted + "*" if prefix else quoted


def _term(term: Term) -> str:
    forms = [term.tokens]
    if is_hebrew(term.tokens[0]):
        forms += [(letter + term.tokens[0], *term.tokens[1:]) for letter in HEBREW_PREFIXES]
    phrases = [_phrase(form, term.prefix) for form in forms]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def fts_query(node: Node) -> str | None:
    """An FTS5 MATCH expression whose results include every article the node matches."""
    match node:
        case Term():
            return _term(node)
        case Not():
            return None
        case Op(op="AND", children=children):
            parts = [part for part in map(fts_query, children) if part is not None]
            return " AND ".join(f"({part})" for part in parts) if parts else None
        case Op(children=children):
            alternatives = [fts_query(child) for child in children]
            if any(part is None for part in alternatives):
                return None
            return " OR ".join(f"({part})" for part in alternatives if part)
        case Near(left=left, right=right):
            return fts_query(Op("AND", (left, right)))
        case Field(name="title", child=child):
            return fts_query(child)
        case Field():
            return None


def index_exact(node: Node) -> bool:
    """Whether the index's matches are exactly the matcher's, so that candidates need no
    verification: an AND/OR of terms. The index holds the matcher's own tokens, split where the
    matcher splits them, with the teaser and the text apart (see rules/text.index_fields), so a
    phrase, a prefix or a Hebrew prefixed form matches there just where the matcher finds it.
    NOT, fields and proximity are left to the matcher."""
    match node:
        case Term():
            return True
        case Op(children=children):
            return all(map(index_exact, children))
        case _:
            return False


def filtered(statement: Any, filters: SearchFilters) -> Any:
    """The statement narrowed by the search filters (all but the query and the limit)."""
    if filters.since:
        statement = statement.where(articles.c.published >= filters.since)
    if filters.until:
        statement = statement.where(articles.c.published <= filters.until)
    if filters.sources:
        statement = statement.where(articles.c.source.in_(filters.sources))
    if filters.language:
        language = filters.language.lower()
        statement = statement.where(
            or_(
                func.lower(articles.c.language) == language,
                func.lower(articles.c.language).like(f"{language}-%"),
            )
        )
    if filters.matched:
        statement = statement.where(articles.c.matched == 1)
    if filters.rules:
        statement = statement.where(
            exists().where(hits.c.article_id == articles.c.id).where(hits.c.rule.in_(filters.rules))
        )
    return statement


NEWEST_FIRST = (articles.c.published.desc(), articles.c.seq.desc())
_index = table("articles_fts", column("rowid"))
FIRST_CHUNK, LARGEST_CHUNK, MOST_STRAGGLERS = 64, 4096, 512
Key = tuple[Any, int]  # (published, seq): the search order, newest first
_SEQ, _PUBLISHED = (list(articles.c).index(column) for column in (articles.c.seq, articles.c.published))


_copy = articles.alias("copy")
# How many articles the story has: the copies are then read only for those that have some.
STORY_SIZE = (
    select(func.count()).where(_copy.c.story == articles.c.story).scalar_subquery().label("story_size")
)


def _matches(filters: SearchFilters) -> Select[Any]:
    """Articles the index matches (:query) that pass the filters, newest stored first."""
    statement: Select[Any] = (
        filtered(select(articles, STORY_SIZE), filters)
        .select_from(_index.join(articles, articles.c.seq == _index.c.rowid))
        .where(text("articles_fts MATCH :query"))
    )
    return statement


def _chunk(matches: Select[Any]) -> Select[Any]:
    """The next :count matches stored before :below."""
    return (
        matches.where(_index.c.rowid < bindparam("below"))
        .order_by(_index.c.rowid.desc())
        .limit(bindparam("count"))
    )


_NO_FILTERS = SearchFilters(limit=0)
_UNFILTERED_CHUNK = _chunk(_matches(_NO_FILTERS))
# Stragglers: articles stored before :below yet published no earlier than the oldest kept. Read
# unfiltered, so that the publication index is the one read.
_STRAGGLERS = (
    select(articles.c.published, articles.c.seq)
    .where(articles.c.published >= bindparam("published"), articles.c.seq < bindparam("below"))
    .limit(MOST_STRAGGLERS + 1)
)


def newest_matches(
    connection: Connection,
    index_query: str,
    filters: SearchFilters,
    accept: Callable[[Row[Any]], bool] | None,
) -> list[Row[Any]]:
    """The newest articles (by publication) that the index matches, pass the filters and are
    accepted (verified by the matcher; None: all are), at most `filters.limit`, newest first.

    The index gives its matches in storing order, newest stored first and cheaply however many
    there are. Publication order mostly follows storing order, so the matches are read in
    chunks, newest stored first, until the articles stored earlier that are newer than the
    oldest kept (stragglers: few or none) can be checked one by one. A common word costs one
    chunk, not a pass over its million matches; an article with a wrong date costs a lookup.
    """
    kept: list[tuple[Key, Row[Any]]] = []  # a min-heap of the newest found
    below, count = sys.maxsize, max(FIRST_CHUNK, filters.limit)
    unfiltered = replace(filters, limit=0) == _NO_FILTERS
    chunk = _UNFILTERED_CHUNK if unfiltered else _chunk(_matches(filters))
    while True:
        rows = connection.execute(chunk, {"query": index_query, "below": below, "count": count}).all()
        _keep(kept, rows, filters.limit, accept)
        if len(rows) < count:
            break  # the index has no more
        below, count = rows[-1][_SEQ], min(count * 2, LARGEST_CHUNK)
        if len(kept) >= filters.limit:
            oldest = kept[0][0]
            stragglers = connection.execute(_STRAGGLERS, {"published": oldest[0], "below": below}).all()
            if len(stragglers) <= MOST_STRAGGLERS:  # else reading the index on is cheaper
                newer = [seq for published, seq in stragglers if (published, seq) > oldest]
                if newer:
                    statement = _matches(filters).where(articles.c.seq.in_(newer))
                    _keep(
                        kept,
                        connection.execute(statement, {"query": index_query}).all(),
                        filters.limit,
                        accept,
                    )
                break
    return [row for _, row in sorted(kept, key=itemgetter(0), reverse=True)]


def _keep(
    kept: list[tuple[Key, Row[Any]]],
    rows: Sequence[Row[Any]],
    limit: int,
    accept: Callable[[Row[Any]], bool] | None,
) -> None:
    """Add to the heap the rows newer than its oldest (those accepted)."""
    for row in rows:
        key = (row[_PUBLISHED], row[_SEQ])
        if len(kept) >= limit and key <= kept[0][0]:
            continue
        if accept is not None and not accept(row):
            continue
        if len(kept) < limit:
            heapq.heappush(kept, (key, row))
        else:
            heapq.heapreplace(kept, (key, row))


def verifies(query: Evaluator, row: Row[Any]) -> bool:
    document = MatchInput(row.title, row.teaser, row.text, row.source, row.language)
    return run(query, document) is not None
