"""The PostgreSQL archive's full-text index, built from the matcher's own tokens: a tsvector per
article and a tsquery per query, the one place that knows their syntax on PostgreSQL (search.py
is SQLite's).

Both are written as literals (`'token':position`, `'a' & 'b':*`), which PostgreSQL reads as
they are: no parser or dictionary of its own splits, stems or folds them, so a Chinese term
inside running text, a Hebrew prefixed form or a folded script is found exactly where the
matcher finds it. The index query finds a superset of what the matcher accepts; NOT, fields and
proximity are left to the matcher, as on SQLite.

A tsvector keeps at most 256 positions of a lexeme, none past 16,383, no lexeme over 2,047
bytes and no more than 1 MB in all. An article past those limits carries marker lexemes, and
every query admits it, to be verified by the matcher:
- LOSSY: some positions are missing, so a phrase in it may be there without showing;
- PARTIAL: some lexemes are missing (only a text far over any real article's size does this).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.rules import Field, Near, Node, Not, Op, Term
from monitor.rules.text import FIELD_BREAK, HEBREW_PREFIXES, is_hebrew

# Private-use characters: never a token of the matcher's (rules/text.py), so never a term's.
LOSSY, PARTIAL = "\ue001", "\ue002"
MOST_POSITIONS, LAST_POSITION, LONGEST_LEXEME = 256, 16_383, 2_047
MOST_BYTES = 900_000  # of the vector's text, below the 1 MB PostgreSQL stores in one tsvector
MARKED = f"'{LOSSY}' | '{PARTIAL}'"  # the tsquery that finds the articles whose index is incomplete


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _fits(token: str) -> bool:
    return len(token.encode()) <= LONGEST_LEXEME


def search_vector(title: str, body: str) -> str:
    """The tsvector literal of an article's index text (rules/text.index_fields: tokens joined by
    spaces, the title apart from the body and the teaser apart from the text by a break, so no
    phrase spans two fields)."""
    positions: dict[str, list[int]] = {}
    position = 0
    for field in (title, body):
        position += 1  # a gap: a phrase ends with its field
        for token in field.split():
            position += 1
            if token != FIELD_BREAK and _fits(token):
                positions.setdefault(token, []).append(position)
    lossy = position > LAST_POSITION or any(len(found) > MOST_POSITIONS for found in positions.values())
    return _literal(positions, lossy)


def _literal(positions: dict[str, list[int]], lossy: bool) -> str:
    parts: list[str] = []
    size = 0
    partial = False
    for lexeme, found in positions.items():
        kept = [str(place) for place in found[:MOST_POSITIONS] if place <= LAST_POSITION]
        part = _quoted(lexeme) + (":" + ",".join(kept) if kept else "")
        if size + len(part) > MOST_BYTES:
            partial = True
            break
        parts.append(part)
        size += len(part) + 1
    parts += [_quoted(marker) for marker, on in ((LOSSY, lossy), (PARTIAL, partial)) if on]
    return " ".join(parts)


def _phrase(tokens: tuple[str, ...], prefix: bool) -> str:
    words = [_quoted(token) for token in tokens]
    if prefix:
        words[-1] += ":*"
    if len(words) == 1:
        return f"({words[0]} | {_quoted(PARTIAL)})"
    # Where positions are missing the phrase cannot be seen: its words together make a candidate.
    together = " & ".join([_quoted(LOSSY), *words])
    return f"({' <-> '.join(words)} | ({together}) | {_quoted(PARTIAL)})"


def _term(term: Term) -> str | None:
    if not term.tokens or not all(map(_fits, term.tokens)):
        return None  # no lexeme of the index can be this long: every article is a candidate
    forms = [term.tokens]
    if is_hebrew(term.tokens[0]):
        forms += [(letter + term.tokens[0], *term.tokens[1:]) for letter in HEBREW_PREFIXES]
    return _any(_phrase(form, term.prefix) for form in forms)


def _any(parts: Iterable[str]) -> str:
    listed = list(parts)
    return listed[0] if len(listed) == 1 else "(" + " | ".join(listed) + ")"


def search_query(node: Node) -> str | None:
    """A tsquery literal whose matches include every article the node matches; None when the
    index cannot narrow the candidates (every article is one)."""
    match node:
        case Term():
            return _term(node)
        case Not():
            return None
        case Op(op="AND", children=children):
            parts = [part for part in map(search_query, children) if part is not None]
            return " & ".join(f"({part})" for part in parts) if parts else None
        case Op(children=children):
            alternatives = [search_query(child) for child in children]
            if any(part is None for part in alternatives):
                return None
            return _any(f"({part})" for part in alternatives if part)
        case Near(left=left, right=right):
            return search_query(Op("AND", (left, right)))
        case Field(name="title", child=child):
            return search_query(child)
        case Field():
            return None
