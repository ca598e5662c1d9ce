"""The PostgreSQL archive's full-text index, built from the matcher's own tokens: a tsvector per
article and a tsquery per query, the one place that knows their syntax on PostgreSQL (search.py
is SQLite's).

Both are written as literals (`'token':position`, `'a' & 'b':*`), which PostgreSQL reads as
they are: no parser or dictionary of its own splits, stems or folds them, so a Chinese term
inside running text, a Hebrew prefixed form or a folded script is found exactly where the
matcher finds it. The index query finds a superset of what the matcher accepts; what a NOT
refuses is left out beside it where the index finds it exactly (index_ask), as on SQLite; fields
and proximity are left to the matcher.

A tsvector keeps at most 256 positions of a lexeme, none past 16,383, no lexeme over 2,047
bytes (no term can be one: the index cannot narrow such a term; but a prefix may begin one) and
no more than 1 MB in all.
An article past those limits has gaps in its index, recorded beside it (`search_gaps`):
- POSITIONS: some positions are missing, so a phrase in it may be there without showing
  (a long article: a word said more than 256 times, or past the 16,383rd word);
- WORDS: some words are missing too (a word over 2,047 bytes, or a text far over any real
  article's size).
What the index shows of such an article is still true, so the index query finds no article
the matcher would refuse; search reads the articles with gaps apart (pg_search.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from monitor.archive.search import index_exact
from monitor.rules import Field, Near, Node, Not, Op, Term
from monitor.rules.ast import all_terms
from monitor.rules.text import FIELD_BREAK
from monitor.rules.word_forms import MOST_TERM_FORMS, forms_count, position_forms, term_forms

NO_GAPS, POSITIONS, WORDS = 0, 1, 2  # what an article's index may lack (search_gaps)
MOST_POSITIONS, LAST_POSITION, LONGEST_LEXEME = 256, 16_383, 2_047
MOST_BYTES = 900_000  # of the vector's text, below the 1 MB PostgreSQL stores in one tsvector


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _fits(token: str) -> bool:
    return len(token.encode()) <= LONGEST_LEXEME


def search_vector(title: str, body: str) -> tuple[str, int]:
    """The tsvector literal of an article's index text (rules/text.index_fields: tokens joined by
    spaces, the title apart from the body and the teaser apart from the text by a break, so no
    phrase spans two fields), and its gaps (NO_GAPS, POSITIONS or WORDS)."""
    positions: dict[str, list[int]] = {}
    position = 0
    too_long = False  # a word past LONGEST_LEXEME: no term is one, but a prefix may begin one
    for field in (title, body):
        position += 1  # a gap: a phrase ends with its field
        for token in field.split():
            position += 1
            if token == FIELD_BREAK:
                continue
            if _fits(token):
                positions.setdefault(token, []).append(position)
            else:
                too_long = True
    lossy = position > LAST_POSITION or any(len(found) > MOST_POSITIONS for found in positions.values())
    literal = _literal(positions, with_positions=True)
    gaps = POSITIONS if lossy else NO_GAPS
    if _size(literal) > MOST_BYTES:
        literal, gaps = _literal(positions, with_positions=False), POSITIONS  # the words alone take less room
        if _size(literal) > MOST_BYTES:
            literal, gaps = _cut(literal), WORDS
    # `b*` in a word of 40,000 b's: missed while the article was said to have no gaps.
    return literal, WORDS if too_long else gaps


def _size(literal: str) -> int:
    """The literal's size as PostgreSQL counts it: bytes (a Thai text of 363,000 characters is
    1.08 MB; counted in characters it passed, and could not be stored, nor its batch)."""
    return len(literal) if literal.isascii() else len(literal.encode())


def _cut(literal: str) -> str:
    """The literal's lexemes that fit in MOST_BYTES, cut between two of them."""
    kept = literal.encode()[:MOST_BYTES]
    return kept[: max(kept.rfind(b" "), 0)].decode()


def _literal(positions: dict[str, list[int]], with_positions: bool) -> str:
    parts: list[str] = []
    for lexeme, found in positions.items():
        kept = (
            [str(place) for place in found[:MOST_POSITIONS] if place <= LAST_POSITION]
            if with_positions
            else []
        )
        parts.append(_quoted(lexeme) + (":" + ",".join(kept) if kept and with_positions else ""))
    return " ".join(parts)


def _phrase(tokens: tuple[str, ...], prefix: bool, loose: bool) -> str:
    words = [_quoted(token) for token in tokens]
    if prefix:
        words[-1] += ":*"
    if len(words) == 1:
        return words[0]
    return "(" + (" & " if loose else " <-> ").join(words) + ")"


def _term(term: Term, loose: bool) -> str | None:
    if not term.tokens or not all(map(_fits, term.tokens)):
        return None  # no lexeme of the index can be this long: every article is a candidate
    if forms_count(term) > MOST_TERM_FORMS:  # a Russian phrase declined: each word, in any form
        last = len(term.tokens) - 1
        words = [
            _any(_phrase((form,), term.prefix and place == last, loose) for form in forms)
            for place, forms in enumerate(position_forms(term))
        ]
        return "(" + (" & " if loose else " <-> ").join(words) + ")" if len(words) > 1 else words[0]
    return _any(_phrase(form, term.prefix, loose) for form in term_forms(term))


def _any(parts: Iterable[str]) -> str:
    listed = list(parts)
    return listed[0] if len(listed) == 1 else "(" + " | ".join(listed) + ")"


def search_query(node: Node, loose: bool = False) -> str | None:
    """A tsquery literal whose matches include every article the node matches, among those
    whose index has no gaps; None when the index cannot narrow the candidates (every article is
    one). `loose`: phrases as their words anywhere, for articles missing positions."""
    match node:
        case Term():
            return _term(node, loose)
        case Not():
            return None
        case Op(op="AND", children=children):
            parts = [part for part in (search_query(child, loose) for child in children) if part is not None]
            return " & ".join(f"({part})" for part in parts) if parts else None
        case Op(children=children):
            alternatives = [search_query(child, loose) for child in children]
            if any(part is None for part in alternatives):
                return None
            return _any(f"({part})" for part in alternatives if part)
        case Near(left=left, right=right):
            return search_query(Op("AND", (left, right)), loose)
        case Field(name="title", child=child):
            return search_query(child, loose)
        case Field():
            return None


class IndexAsk(NamedTuple):
    """What a search asks of the index: the tsquery of the candidates (None: every article is
    one) and the loose one of the articles missing positions (None: all of them), the tsquery of
    what is refused exactly (search.exact_refusal) in the articles missing no words (None:
    nothing), and the kinds of gaps whose articles the index answers exactly, so that none is
    verified."""

    asked: str | None
    loose: str | None
    refused: str | None
    exact: frozenset[int]


def index_ask(node: Node) -> IndexAsk:
    """The index's part of a search for the node: what it asks, what it refuses and where its
    answer is exact. Refusing in the index spares the matcher a NOT: verifying a word's absence
    tokenized each candidate's whole text (a crowd of `dome -x` over long articles held a
    server). An article missing positions still holds every word, so a NOT of words or
    prefixes is refused there too (a phrase where its positions show it), and a query without a
    phrase is answered exactly."""
    # In an article missing positions, a phrase found where they are kept is there (a lexeme
    # without positions matches no phrase): refused where seen, verified where not.
    refused = _refusal([child for child in _top_refusals(node) if index_exact(child) and _fit(child)])
    exact: set[int] = set()
    if index_exact(node, refusals=True) and _fit(node):
        exact = {NO_GAPS} if _phrased(node) else {NO_GAPS, POSITIONS}
    return IndexAsk(
        search_query(node),
        search_query(node, loose=True),
        refused,
        frozenset(exact),
    )


def _top_refusals(node: Node) -> list[Node]:
    """What the query's NOTs refuse, where no other part of it can take the article back: the
    NOTs of its AND, or itself a NOT."""
    match node:
        case Not(child=child):
            return [child]
        case Op(op="AND", children=children):
            return [child.child for child in children if isinstance(child, Not)]
    return []


def _refusal(children: list[Node]) -> str | None:
    queries = [query for query in map(search_query, children) if query is not None]
    return " | ".join(f"({query})" for query in queries) if queries else None


def _fit(node: Node) -> bool:
    """Whether every word of the node's terms can be a lexeme of the index."""
    return all(all(map(_fits, term.tokens)) for term in all_terms(node))


def _phrased(node: Node) -> bool:
    """Whether the node asks for words next to each other (a phrase needs positions)."""
    return any(len(term.tokens) > 1 for term in all_terms(node))
