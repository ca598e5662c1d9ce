"""AST x article -> hits: one evaluator of the boolean logic, fed with term occurrences either
by scanning the article (one query: search, test-rule) or by the automaton (the rule set)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from monitor.language_codes import within
from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, field_terms
from monitor.rules.spellings import written_as_found, written_so
from monitor.rules.text import TokenizedText, tokenize, words_starting_with
from monitor.rules.word_forms import position_forms

BODY_FIELDS = ("title", "summary", "text")
Place = tuple[str, int, int, str]  # a hit's field, start and end offsets in it, and snippet
MAX_HITS_PER_RULE = 20
# A term's first occurrences in a field that the matcher keeps: far more than any article holds,
# and a bound on the work and memory a text repeating a term at every word can cause.
MAX_OCCURRENCES = 10_000
_FIELD_ORDER = {"title": 0, "summary": 1, "text": 2, "source": 3}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    query: str
    node: Node
    evaluator: Evaluator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "evaluator", compile_node(self.node))


@dataclass(slots=True)
class MatchInput:
    """The parts of an article a query looks at; tokenized once, shared by every rule."""

    title: str
    summary: str
    text: str
    source: str = ""
    language: str | None = None
    _fields: dict[str, TokenizedText] = field(default_factory=dict)
    _places: dict[tuple[str, int, int], Place] = field(default_factory=dict)

    def place(self, where: tuple[str, int, int]) -> Place:
        """For tokens first..last of a field: the field, where they start and end in it and the
        snippet around them (computed once per article: rules that share a term share it)."""
        found = self._places.get(where)
        if found is None:
            name, first, last = where
            doc = self._fields.get(name) or self.field(name)
            found = self._places[where] = (name, doc.starts[first], doc.ends[last], doc.snippet(first, last))
        return found

    def field(self, name: str) -> TokenizedText:
        if name not in self._fields:
            self._fields[name] = tokenize(getattr(self, name))
        return self._fields[name]


Starts = npt.NDArray[np.int64]  # token indexes where a term occurs in a field: sorted, distinct
Found = dict[tuple[str, Term], Starts]  # (field, term) -> where; an array is never empty
Lookup = Callable[[Term, Sequence[str]], Found]
NOWHERE: Starts = np.empty(0, dtype=np.int64)


def scan_term(term: Term, doc: TokenizedText) -> Starts:
    """Where a term occurs in one tokenized field, found by scanning: every token position is
    tested at once, a token of the term at a time."""
    ids, vocabulary = doc.token_ids()
    length = len(term.tokens)
    window = len(ids) - length + 1
    if window <= 0:
        return NOWHERE
    wanted_at: list[list[int]] = []  # the token ids each position of the term accepts
    for offset, forms in enumerate(position_forms(term)):
        as_prefix = term.prefix and offset == length - 1
        tokens = [token for form in forms for token in doc.starting_with(form)] if as_prefix else forms
        wanted_at.append([vocabulary[token] for token in tokens if token in vocabulary])
        if not wanted_at[-1]:  # a word of the term is not in the text: no array work at all
            return NOWHERE
    held = np.ones(window, dtype=np.bool_)
    for offset, wanted in enumerate(wanted_at):
        window_ids = ids[offset : offset + window]
        held &= window_ids == wanted[0] if len(wanted) == 1 else np.isin(window_ids, wanted)
    starts = np.flatnonzero(held)
    if written_so(term):
        starts = written_as_found(term, doc, starts)
    return starts[:MAX_OCCURRENCES].astype(np.int64)  # a copy: the rest is let go


Result = Found | None  # None: false; else where the terms that made it true occur
Evaluator = Callable[[Lookup, Sequence[str], str], Result]


@lru_cache(maxsize=4096)
def compile_node(node: Node) -> Evaluator:
    """The query as nested closures, built once: evaluating walks no AST and matches no patterns.

    An evaluator takes the term lookup, the fields in scope and the article's language.
    """
    match node:
        case Term():
            return lambda lookup, fields, language: lookup(node, fields) or None
        case Not(child=child):
            inner = compile_node(child)
            return lambda lookup, fields, language: (
                None if inner(lookup, fields, language) is not None else {}
            )
        case Op(op="AND", children=children):
            return _all_of(tuple(map(compile_node, dict.fromkeys(children))))
        case Op(children=children):
            return _any_of(tuple(map(compile_node, dict.fromkeys(children))))
        case Near(left=left, right=right, distance=distance):
            return _near(compile_node(left), compile_node(right), distance)
        case Field(name="lang", child=child):
            holds = _language_test(child)
            return lambda lookup, fields, language: {} if holds(language) else None
        case Field(name=name, child=child):
            inner, scope = compile_node(child), (name,)
            return lambda lookup, fields, language: inner(lookup, scope, language)


def _all_of(parts: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(lookup: Lookup, fields: Sequence[str], language: str) -> Result:
        results: list[Found] = []
        for part in parts:
            result = part(lookup, fields, language)
            if result is None:
                return None
            results.append(result)
        return _union(results)

    return evaluate


def _any_of(parts: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(lookup: Lookup, fields: Sequence[str], language: str) -> Result:
        results = [result for part in parts if (result := part(lookup, fields, language)) is not None]
        return _union(results) if results else None

    return evaluate


def _union(results: list[Found]) -> Found:
    """Where any of the results' terms occur, each place once however many parts found it
    (`(a OR b) AND (b OR a) AND …` holds a and b's places once, not once per part)."""
    filled = [result for result in results if result]
    if len(filled) <= 1:
        return filled[0] if filled else {}
    merged: Found = {}
    for result in filled:
        for key, starts in result.items():
            known = merged.get(key)
            merged[key] = starts if known is None or known is starts else _merged(known, starts)
    return merged


def _merged(one: Starts, other: Starts) -> Starts:
    """Two sorted arrays of distinct starts as one (a stable sort of two sorted runs merges them
    in linear time)."""
    both = np.concatenate((one, other))
    both.sort(kind="stable")
    distinct = np.empty(len(both), dtype=np.bool_)
    distinct[:1] = True
    np.not_equal(both[1:], both[:-1], out=distinct[1:])
    return both[distinct]


def _near(left: Evaluator, right: Evaluator, distance: int) -> Evaluator:
    def evaluate(lookup: Lookup, fields: Sequence[str], language: str) -> Result:
        found_left = left(lookup, fields, language)
        found_right = right(lookup, fields, language) if found_left else None
        if not found_left or not found_right:
            return None
        close = [_close_to(found_left, found_right, distance), _close_to(found_right, found_left, distance)]
        return _union(close) or None

    return evaluate


def _close_to(these: Found, others: Found, distance: int) -> Found:
    """The occurrences of `these` within `distance` words of one of `others`.

    Two spans are that close when neither starts more than `distance` words after the other ends.
    Per field, the others sorted by start with the running maximum of their ends answer all of a
    term's occurrences in one vectorized bisection: time O(n log n) in the occurrences, never in
    their pairs (a chain like `a NEAR b NEAR c` over a text repeating a, b and c once kept every
    combination), and a few bytes per occurrence."""
    reach: dict[str, tuple[Starts, Starts]] = {}
    for field_name in {field_name for field_name, _ in others}:
        parts = [(starts, term) for (name, term), starts in others.items() if name == field_name]
        starts = np.concatenate([part for part, _ in parts])
        ends = np.concatenate([part + (len(term.tokens) - 1) for part, term in parts])
        order = np.argsort(starts, kind="stable")
        reach[field_name] = starts[order], np.maximum.accumulate(ends[order])
    close: Found = {}
    for (field_name, term), starts in these.items():
        if field_name not in reach:
            continue
        other_starts, furthest_end = reach[field_name]
        reachable = np.searchsorted(other_starts, starts + (len(term.tokens) - 1 + distance), side="right")
        near = (reachable > 0) & (furthest_end[np.maximum(reachable - 1, 0)] >= starts - distance)
        if near.all():
            close[field_name, term] = starts
        elif near.any():
            close[field_name, term] = starts[near]
    return close


def _language_test(node: Node) -> Callable[[str], bool]:
    """Whether an article's language (lowercased) is what lang:'s codes ask; a code takes in
    its variants (zh: zh-tw, zh-hant). The parser lets only codes, AND, OR and NOT in."""
    match node:
        case Term(text=code):
            return lambda language: within(language, code)
        case Not(child=child):
            inner = _language_test(child)
            return lambda language: not inner(language)
        case Op(op="AND", children=children):
            tests = tuple(map(_language_test, children))
            return lambda language: all(test(language) for test in tests)
        case Op(children=children):
            tests = tuple(map(_language_test, children))
            return lambda language: any(test(language) for test in tests)
    raise ValueError(f"lang: cannot hold {node}")


def evaluate(node: Node, article: MatchInput, lookup: Lookup | None = None) -> Result:
    """None when the query does not match; else where the terms that made it match occur."""
    return run(compile_node(node), article, lookup)


def run(evaluator: Evaluator, article: MatchInput, lookup: Lookup | None = None) -> Result:
    """Evaluate a compiled query; without a lookup, terms are found by scanning the article."""

    if lookup is None:
        scanned: dict[tuple[Term, Sequence[str]], Found] = {}

        def lookup(term: Term, fields: Sequence[str]) -> Found:
            found = scanned.get((term, fields))
            if found is None:  # a term repeated in the query is scanned once
                found = scanned[term, fields] = {
                    (name, term): starts
                    for name in fields
                    if len(starts := scan_term(term, article.field(name)))
                }
            return found

    return evaluator(lookup, BODY_FIELDS, (article.language or "").lower())


def sourceless_fields(node: Node, names: Iterable[str]) -> list[str]:
    """The query's source: fields, as written, that no source name holds as the matcher reads
    them: a misspelt source (`source:Reutres`), whose query would find nothing without a word.
    Only the names holding each of a term's words, in one of its forms, are tried (10,000
    sources, 300 rules naming one each: 43 s to check when each name was tried for each term)."""
    sources, holders, vocabulary = _source_names(tuple(sorted(set(names))))
    unknown = []
    for term in dict.fromkeys(field_terms(node, "source")):
        tried: set[int] | None = None
        last = len(term.tokens) - 1
        for place, forms in enumerate(position_forms(term)):
            if term.prefix and place == last:
                forms = tuple(token for form in forms for token in words_starting_with(vocabulary, form))
            holding = {index for token in forms for index in holders.get(token, ())}
            tried = holding if tried is None else tried & holding
        if all(evaluate(Field("source", term), sources[index]) is None for index in tried or ()):
            unknown.append(f'source:"{term.text}"' if term.quoted else f"source:{term.text}")
    return unknown


@lru_cache(maxsize=4)
def _source_names(names: tuple[str, ...]) -> tuple[list[MatchInput], dict[str, list[int]], list[str]]:
    """The names as the matcher reads them, which names hold each word, and the words sorted."""
    sources = [MatchInput("", "", "", source=name) for name in names]
    holders: dict[str, list[int]] = {}
    for index, source in enumerate(sources):
        for token in dict.fromkeys(source.field("source").tokens):
            holders.setdefault(token, []).append(index)
    return sources, holders, sorted(holders)


def rule_hits(
    rule: CompiledRule, article: MatchInput, lookup: Lookup | None = None, language: str | None = None
) -> list[Hit]:
    if lookup is None:
        found = run(rule.evaluator, article)
    else:
        if language is None:
            language = (article.language or "").lower()
        found = rule.evaluator(lookup, BODY_FIELDS, language)
    return [] if found is None else hits_of(rule.name, article, found)


def hits_of(rule: str, article: MatchInput, found: Found) -> list[Hit]:
    """The hits of a rule that holds, from where the terms that made it hold occur: the first
    MAX_HITS_PER_RULE places in reading order."""
    places = sorted(
        (_FIELD_ORDER[name], first, first + len(term.tokens) - 1, term.text, name)
        for (name, term), starts in found.items()
        for first in starts[:MAX_HITS_PER_RULE].tolist()
    )
    hits: list[Hit] = []
    seen: set[tuple[str, int, int]] = set()
    for _, first, last, text, name in places:
        if (name, first, last) in seen:
            continue
        seen.add((name, first, last))
        hits.append(Hit(rule, text, *article.place((name, first, last))))
        if len(hits) >= MAX_HITS_PER_RULE:
            break
    if not hits:
        # A rule true only through NOT (e.g. "NOT sport") still matched: record it without a span.
        hits.append(Hit(rule=rule, term="", field="", start=0, end=0, snippet=""))
    return hits
