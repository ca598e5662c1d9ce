"""Query AST -> full-text index query, the one place that knows the index's syntax.

The index query only narrows candidates: it must find a superset of what the matcher accepts
(NOT, fields and proximity are left to the matcher, which verifies every candidate exactly).
`None` means the query cannot narrow anything and every article is a candidate.
"""

from __future__ import annotations

import heapq
import sys
import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, exists, func, or_, select, text

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
    verification: an AND/OR of one-word terms whose characters the index's tokenizer keeps
    whole (letters and digits; it splits at combining marks). A phrase is not: the index joins
    an article's teaser and text, so it may find a phrase across the two that the matcher,
    reading fields apart, does not."""
    match node:
        case Term(tokens=(token,)):
            return all(unicodedata.category(char)[0] in "LN" for char in token)
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
_MATCHES_BELOW = text(
    "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :query AND rowid < :below "
    "ORDER BY rowid DESC LIMIT :count"
)
FIRST_CHUNK, LARGEST_CHUNK = 256, 8192
Key = tuple[Any, int]  # (published, seq): the search order, newest first


def newest_matches(
    connection: Connection,
    index_query: str,
    filters: SearchFilters,
    accept: Callable[[Row[Any]], bool] | None,
) -> list[Row[Any]]:
    """The newest articles (by publication) that the index matches, pass the filters and are
    accepted (verified by the matcher; None: all are), at most `filters.limit`.

    The index gives its matches in storing order, newest stored first and cheaply however many
    there are. Publication order mostly follows storing order, so the matches are read in
    chunks, newest stored first, until no article stored earlier is newer than the oldest of
    those kept: a common word costs a few chunks, not a pass over its million matches. Exact
    whatever the order: an old article stored late only makes the reading go on.
    """
    kept: list[Key] = []  # a min-heap of the newest keys found
    below, count = sys.maxsize, FIRST_CHUNK
    while True:
        rowids = list(
            connection.execute(
                _MATCHES_BELOW, {"query": index_query, "below": below, "count": count}
            ).scalars()
        )
        if not rowids:
            break
        below, count = rowids[-1], min(count * 2, LARGEST_CHUNK)
        keys = connection.execute(
            filtered(select(articles.c.published, articles.c.seq).where(articles.c.seq.in_(rowids)), filters)
        )
        candidates = [(row.published, row.seq) for row in keys]
        _keep(connection, kept, candidates, filters.limit, accept)
        if len(kept) >= filters.limit:
            newest_left = connection.execute(
                select(articles.c.published, articles.c.seq)
                .where(articles.c.seq < below)
                .order_by(*NEWEST_FIRST)
                .limit(1)
            ).first()
            if newest_left is None or (newest_left.published, newest_left.seq) < kept[0]:
                break
    if not kept:
        return []
    seqs = [seq for _, seq in kept]
    return list(connection.execute(select(articles).where(articles.c.seq.in_(seqs)).order_by(*NEWEST_FIRST)))


def _keep(
    connection: Connection,
    kept: list[Key],
    candidates: list[Key],
    limit: int,
    accept: Callable[[Row[Any]], bool] | None,
) -> None:
    """Add to the heap the candidates newer than its oldest (those accepted)."""
    candidates.sort(reverse=True)
    if len(kept) >= limit:
        candidates = [key for key in candidates if key > kept[0]]
    candidates = candidates[:limit]
    if accept is not None and candidates:
        rows = connection.execute(select(articles).where(articles.c.seq.in_([seq for _, seq in candidates])))
        accepted = {row.seq for row in rows if accept(row)}
        candidates = [key for key in candidates if key[1] in accepted]
    for key in candidates:
        if len(kept) < limit:
            heapq.heappush(kept, key)
        elif key > kept[0]:
            heapq.heapreplace(kept, key)


def verifies(query: Evaluator, row: Row[Any]) -> bool:
    document = MatchInput(row.title, row.teaser, row.text, row.source, row.language)
    return run(query, document) is not None
