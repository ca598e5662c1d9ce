"""Where a hit's term stands in its snippet, found as the matcher finds it, for the pages, the
alert e-mails and `test-rule` to mark: in any of its spellings and forms (`F35` under `F-35`,
`#IronDome` under "Iron Dome", `בכיפת ברזל` under "כיפת ברזל", `鐵穹` under 铁穹), and only
where it is (`IronDomeSystem` is not Iron Dome). A term neither reading finds is marked where
it is written, as before."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from functools import lru_cache

from markupsafe import escape

from monitor.errors import QueryError
from monitor.rules.ast import Term
from monitor.rules.match import Evaluator, Found, MatchInput, compile_node, run
from monitor.rules.parse import parse_query, with_spellings
from monitor.rules.text import TokenizedText, tokenize

Span = tuple[int, int]


@lru_cache(maxsize=1024)
def _readings(term: str) -> tuple[Evaluator, ...]:
    """The ways a hit's term may have been written: a `terms:` list's literal words (`C*` is
    the word c; `Operation "Iron Swords"` three words), then a query's term (`weapon*` a
    prefix), each with its other spellings."""
    readings = []
    literal = tokenize(term).tokens
    if literal:
        readings.append(compile_node(with_spellings(Term(term, tuple(literal), quoted=True))))
    with contextlib.suppress(QueryError):  # a literal a query cannot hold (an unpaired quote)
        readings.append(compile_node(parse_query(f'"{term.strip()}"')))
    return tuple(readings)


def term_spans(snippet: str, term: str) -> list[Span]:
    """The places of the term in the snippet, in order, overlapping ones merged: as the first
    reading that finds it there reads it; where it is written, if none does."""
    if not term.strip():
        return []
    article = MatchInput("", "", snippet)
    for evaluator in _readings(term):
        found = run(evaluator, article)
        if found:
            return _spans(article.field("text"), found)
    return [found.span() for found in re.finditer(re.escape(term), snippet, re.IGNORECASE)]


def _spans(doc: TokenizedText, found: Found) -> list[Span]:
    spans = sorted(
        (doc.starts[first], doc.ends[first + len(matched.tokens) - 1])
        for (name, matched), starts in found.items()
        if name == "text"
        for first in starts.tolist()
    )
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def marked(snippet: str, term: str, mark: Callable[[str], str], other: Callable[[str], str] = str) -> str:
    """The snippet with the term's places passed through `mark` and the rest through `other`
    (for HTML: each escaped, the places in <mark>)."""
    parts, last = [], 0
    for start, end in term_spans(snippet, term):
        parts += [other(snippet[last:start]), mark(snippet[start:end])]
        last = end
    parts.append(other(snippet[last:]))
    return "".join(parts)


def html_marked(snippet: str, term: str) -> str:
    """The snippet, HTML-escaped, with the term's places in <mark>."""
    return marked(
        snippet, term, lambda found: f"<mark>{escape(found)}</mark>", lambda text: str(escape(text))
    )
