"""Where a search's query finds each of its results, for the search page to show (the rules'
hits say where the rules found an article, not where the query did).

Found as written first: each term the query asks for (not under NOT, not source: or lang:) is
looked for in the article's text, teaser and title as the query wrote it (any case; its words
apart by spaces or dashes), a regular expression over the raw text, run only where a substring
search of the lowered text finds the term's first word. Only an article where none is found
so, or where a term every result holds (not one of an OR's) is not, is read as the matcher
reads it (tokenized: other spellings, Hebrew prefixes, Simplified and Traditional characters).
Tokenizing every result, 30 a page, held the interpreter for 3-9 ms a page and, under 50
clients at once, cut the server's answers a second by two thirds: an OR's terms, most of them
absent from each result, must not make every result read so."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import Markup, escape

from monitor.models import Article, Hit
from monitor.rules import Node
from monitor.rules.ast import Field, Near, Not, Op, Term
from monitor.rules.match import Evaluator, MatchInput, compile_node, hits_of, run
from monitor.rules.text import snippet_around

SCANNED = 20_000  # characters of a result's teaser and text looked through
_APART = r"[\s\-\u2010-\u2015\u2212\u30fb\uff0d]+"  # between a term's words: spaces, dashes, a middle dot


@dataclass(frozen=True, slots=True)
class Place:
    """A term found as written, its snippet marked where the pattern finds it (a Hit's snippet
    is marked as the matcher reads it, which tokenizes it: 30 of those a page cost as much as
    finding them)."""

    term: str
    marked: Markup


class Written(NamedTuple):
    """A term as the query wrote it: its first word lowered (told absent by a substring search),
    its pattern, whether it is asked of the title alone (title:), and whether every result
    holds it in some spelling (not one of an OR's terms)."""

    term: str
    first_word: str
    pattern: re.Pattern[str]
    title_only: bool
    in_every_result: bool


@dataclass(frozen=True, slots=True)
class QueryPlaces:
    """A query's terms as written and as the matcher reads them."""

    written: tuple[Written, ...]
    evaluator: Evaluator


def query_places(query: Node) -> QueryPlaces:
    written: dict[str, Written] = {}
    for term, in_title, in_every_result in _asked(query):
        pattern = _pattern(term)
        if pattern is not None and term.text not in written:
            first_word = _words(term.text)[0].lower()
            written[term.text] = Written(term.text, first_word, pattern, in_title, in_every_result)
    return QueryPlaces(tuple(written.values()), compile_node(query))


def query_hits(places: QueryPlaces, article: Article) -> list[Place | Hit]:
    """Each term's first place in the article, the text's before the teaser's before the
    title's (the title is shown already); by the matcher where none is found as written, and
    for a term every result holds that is not (written in another spelling)."""
    if not places.written:  # NOT, source: or lang: alone: nothing the matcher would show either
        return []
    text, teaser = article.text[:SCANNED], article.teaser[:SCANNED]
    fields = [(value, value.lower()) for value in (text, teaser, article.title)]
    shown: list[Place | Hit] = []
    elsewise: set[str] = set()  # terms every result holds, not found as written here
    for term, first_word, pattern, title_only, in_every_result in places.written:
        for value, lowered in fields[2:] if title_only else fields:
            # A word absent from the text is told by a substring search, at C's speed: the
            # pattern's search over 18,000 characters took 0.3 ms, for each term of an OR.
            found = pattern.search(value) if first_word in lowered else None
            if found:
                snippet = snippet_around(value, found.start(), found.end(), 0, len(value))
                shown.append(Place(term, _marked(snippet, pattern)))
                break
        else:
            if in_every_result:
                elsewise.add(term)
    if not shown:
        return list(_first_places(_read_as_the_matcher_reads(places.evaluator, article)))
    if elsewise:
        hits = _read_as_the_matcher_reads(places.evaluator, article)
        shown += _first_places([hit for hit in hits if hit.term in elsewise])
    return shown


def _first_places(hits: list[Hit]) -> list[Hit]:
    """Each term's first place, as for the terms found as written: the text's or the teaser's
    before the title's (the title is shown already)."""
    first: dict[str, Hit] = {}
    for hit in sorted(hits, key=lambda hit: hit.field == "title"):  # stable: in reading order
        first.setdefault(hit.term, hit)
    return list(first.values())


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
    hits = hits_of("", document, found) if found else []
    # One line a place: a term's other spellings find the same words.
    shown = {(hit.term, hit.snippet): hit for hit in hits if hit.term and hit.field != "source"}
    return list(shown.values())


def _asked(node: Node, in_title: bool = False, in_every: bool = True) -> list[tuple[Term, bool, bool]]:
    """The terms a result is found by, each with whether it is asked of the title alone and
    whether every result holds it (in some spelling): none under NOT, none of source: or lang:."""
    match node:
        case Term():
            return [(node, in_title, in_every)]
        case Field(name=name, child=child):
            return _asked(child, True, in_every) if name == "title" else []
        case Op(op=op, children=children):
            # A term with its other spellings (F-35 OR F35) is one term.
            one_term = all(isinstance(child, Term) and child.spelling for child in children[1:])
            each = in_every and (op == "AND" or one_term)
            return [asked for child in children for asked in _asked(child, in_title, each)]
        case Near(left=left, right=right):
            return _asked(left, in_title, in_every) + _asked(right, in_title, in_every)
        case Not():
            return []
    return []


def _pattern(term: Term) -> re.Pattern[str] | None:
    """The term as written, in any case, its words apart by spaces or dashes; a word's edge
    where a script writes spaces between words (not Chinese, Japanese, Thai); a prefix, the
    rest of its word."""
    words = _words(term.text)
    if not words:
        return None
    body = _APART.join(re.escape(word) for word in words)
    before = r"(?<!\w)" if _spaced(words[0][0]) else ""
    after = r"\w*" if term.prefix else (r"(?!\w)" if _spaced(words[-1][-1]) else "")
    return re.compile(before + body + after, re.IGNORECASE)


def _words(text: str) -> list[str]:
    """A term's words as written: apart by spaces or dashes, its quotes and prefix star aside."""
    return [word for word in re.split(_APART, text.strip().strip('"').rstrip("*")) if word]


def _spaced(character: str) -> bool:
    """Whether the character's script writes spaces between words (Latin, Greek, Cyrillic,
    Hebrew, Arabic...; not Thai and after it: Chinese, Japanese, Korean's Hangul aside)."""
    return character.isalnum() and (ord(character) < 0x0E00 or 0xAC00 <= ord(character) <= 0xD7A3)
