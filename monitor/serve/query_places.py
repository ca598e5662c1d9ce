"""Where a search's query finds each of its results, for the search page to show (the rules'
hits say where the rules found an article, not where the query did).

Found as written first: each term the query asks for (not under NOT, not source: or lang:) is
looked for in the article's text, teaser and title as the query wrote it (any case; its words
apart by spaces or dashes), a regular expression over the raw text. Only an article where none
is found so is read as the matcher reads it (tokenized: other spellings, Hebrew prefixes,
Simplified and Traditional characters). Tokenizing every result, 30 a page, held the
interpreter for 3-9 ms a page and, under 50 clients at once, cut the server's answers a second
by two thirds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from monitor.models import Article, Hit
from monitor.rules import Node
from monitor.rules.ast import Field, Near, Not, Op, Term
from monitor.rules.match import Evaluator, MatchInput, compile_node, hits_of, run
from monitor.rules.text import snippet_around

SCANNED = 20_000  # characters of a result's teaser and text looked through
_APART = r"[\s\-\u2010-\u2015\u30fb]+"  # between a term's words: spaces, dashes, a katakana middle dot


@dataclass(frozen=True, slots=True)
class Place:
    """A term found as written, its snippet marked where the pattern finds it (a Hit's snippet
    is marked as the matcher reads it, which tokenizes it: 30 of those a page cost as much as
    finding them)."""

    term: str
    marked: Markup


@dataclass(frozen=True, slots=True)
class QueryPlaces:
    """A query's terms as written (each with its pattern) and as the matcher reads them."""

    written: tuple[tuple[str, re.Pattern[str]], ...]
    evaluator: Evaluator


def query_places(query: Node) -> QueryPlaces:
    patterns = {term.text: _pattern(term) for term in _asked(query)}
    written = tuple((text, pattern) for text, pattern in patterns.items() if pattern)
    return QueryPlaces(written, compile_node(query))


def query_hits(places: QueryPlaces, article: Article) -> list[Place] | list[Hit]:
    """Each term's first place in the article, the text's before the teaser's before the
    title's (the title is shown already); by the matcher where none is found as written."""
    text, teaser = article.text[:SCANNED], article.teaser[:SCANNED]
    fields = (("text", text), ("summary", teaser), ("title", article.title))
    shown = []
    for term, pattern in places.written:
        for _name, value in fields:
            found = pattern.search(value)
            if found:
                snippet = snippet_around(value, found.start(), found.end(), 0, len(value))
                shown.append(Place(term, _marked(snippet, pattern)))
                break
    return shown or _read_as_the_matcher_reads(places.evaluator, article)


def _marked(snippet: str, pattern: re.Pattern[str]) -> Markup:
    """The snippet escaped, the pattern's places in <mark>."""
    parts, last = [], 0
    for found in pattern.finditer(snippet):
        parts += [escape(snippet[last : found.start()]), Markup("<mark>%s</mark>") % found.group()]
        last = found.end()
    parts.append(escape(snippet[last:]))
    return Markup("").join(parts)


def _read_as_the_matcher_reads(evaluator: Evaluator, article: Article) -> list[Hit]:
    teaser, text = article.teaser[:SCANNED], article.text[:SCANNED]
    document = MatchInput(article.title, teaser, text, article.source, article.language)
    found = run(evaluator, document)
    return [hit for hit in hits_of("", document, found) if hit.term] if found else []


def _asked(node: Node) -> list[Term]:
    """The terms a result is found by: none under NOT, none of source: or lang:."""
    match node:
        case Term():
            return [node]
        case Field(name=name, child=child):
            return _asked(child) if name == "title" else []
        case Op(children=children):
            return [term for child in children for term in _asked(child)]
        case Near(left=left, right=right):
            return _asked(left) + _asked(right)
        case Not():
            return []
    return []


def _pattern(term: Term) -> re.Pattern[str] | None:
    """The term as written, in any case, its words apart by spaces or dashes; a word's edge
    where a script writes spaces between words (not Chinese, Japanese, Thai); a prefix, the
    rest of its word."""
    words = term.text.strip().strip('"').rstrip("*").split()
    if not words:
        return None
    body = _APART.join(re.escape(word) for word in words)
    before = r"(?<!\w)" if _spaced(words[0][0]) else ""
    after = r"\w*" if term.prefix else (r"(?!\w)" if _spaced(words[-1][-1]) else "")
    return re.compile(before + body + after, re.IGNORECASE)


def _spaced(character: str) -> bool:
    """Whether the character's script writes spaces between words (Latin, Greek, Cyrillic,
    Hebrew, Arabic...; not Thai and after it: Chinese, Japanese, Korean's Hangul aside)."""
    return character.isalnum() and (ord(character) < 0x0E00 or 0xAC00 <= ord(character) <= 0xD7A3)
