"""Query AST -> full-text index query, the one place that knows the index's syntax.

The index query only narrows candidates: it must find a superset of what the matcher accepts
(NOT, fields and proximity are left to the matcher, which verifies every candidate exactly).
`None` means the query cannot narrow anything and every article is a candidate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, exists, func, or_, select, text

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


def search_statement(statement: Any, query: Node | None, filters: SearchFilters) -> Any:
    index_query = fts_query(query) if query is not None else None
    if index_query is not None:
        statement = statement.where(
            articles.c.seq.in_(
                select(text("rowid"))
                .select_from(text("articles_fts"))
                .where(text("articles_fts MATCH :fts").bindparams(fts=index_query))
            )
        )
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
    return statement.order_by(articles.c.published.desc(), articles.c.seq.desc())


def verifies(query: Evaluator, row: Row[Any]) -> bool:
    document = MatchInput(row.title, row.teaser, row.text, row.source, row.language)
    return run(query, document) is not None
