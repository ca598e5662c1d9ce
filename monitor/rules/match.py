"""AST x article -> hits: one evaluator of the boolean logic, fed with term occurrences either
by scanning the article (one query: search, test-rule) or by the automaton (the rule set)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter
from typing import NamedTuple

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term
from monitor.rules.text import HEBREW_PREFIXES, TokenizedText, is_hebrew, tokenize

BODY_FIELDS = ("title", "summary", "text")
Place = tuple[str, int, int, str]  # a hit's field, start and end offsets in it, and snippet
MAX_HITS_PER_RULE = 20
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


class Occurrence(NamedTuple):
    """Tokens first..last of a field hold a term. (A tuple: the matcher makes many.)"""

    field: str
    first: int
    last: int
    term: Term


Lookup = Callable[[Term, Sequence[str]], list[Occurrence]]


def scan_term(term: Term, field_name: str, doc: TokenizedText) -> list[Occurrence]:
    """Every occurrence of a term in one tokenized field, found by scanning."""
    tokens, index = doc.tokens, doc.positions()
    first_forms = [term.tokens[0]]
    if is_hebrew(term.tokens[0]):
        first_forms += [letter + term.tokens[0] for letter in HEBREW_PREFIXES]
    if term.prefix and len(term.tokens) == 1:
        starts = [
            position
            for token, positions in index.items()
            if any(token.startswith(form) for form in first_forms)
            for position in positions
        ]
    else:
        starts = [position for form in first_forms for position in index.get(form, ())]
    length = len(term.tokens)
    if length == 1:  # every start found is a whole occurrence
        return [Occurrence(field_name, start, start, term) for start in sorted(starts)]
    found: list[Occurrence] = []
    for start in sorted(starts):
        if start + length > len(tokens):
            continue
        if all(tokens[start + offset] == term.tokens[offset] for offset in range(1, length - 1)):
            last = start + length - 1
            if length == 1 or _last_matches(term, tokens[last]):
                found.append(Occurrence(field_name, start, last, term))
    return found


def _last_matches(term: Term, token: str) -> bool:
    wanted = term.tokens[-1]
    return token.startswith(wanted) if term.prefix else token == wanted


Result = list[Occurrence] | None  # None: false; else the occurrences that made it true
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
                None if inner(lookup, fields, language) is not None else []
            )
        case Op(op="AND", children=children):
            return _all_of(tuple(map(compile_node, dict.fromkeys(children))))
        case Op(children=children):
            return _any_of(tuple(map(compile_node, dict.fromkeys(children))))
        case Near(left=left, right=right, distance=distance):
            return _near(compile_node(left), compile_node(right), distance)
        case Field(name="lang", child=child):
            wanted = child.text.lower() if isinstance(child, Term) else None
            return lambda lookup, fields, language: [] if _language_is(language, wanted) else None
        case Field(name=name, child=child):
            inner, scope = compile_node(child), (name,)
            return lambda lookup, fields, language: inner(lookup, scope, language)


def _all_of(parts: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(lookup: Lookup, fields: Sequence[str], language: str) -> Result:
        results: list[list[Occurrence]] = []
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


def _union(results: list[list[Occurrence]]) -> list[Occurrence]:
    """Each occurrence once, however many parts found it: `(a OR b) AND (b OR a) AND …` over a
    text full of a and b would otherwise grow with the number of parts times the occurrences.

    Occurrences are compared by identity: a term's lookup makes each of them once per article."""
    filled = [result for result in results if result]
    if len(filled) <= 1:
        return filled[0] if filled else []
    return list({id(occurrence): occurrence for result in filled for occurrence in result}.values())


def _near(left: Evaluator, right: Evaluator, distance: int) -> Evaluator:
    def evaluate(lookup: Lookup, fields: Sequence[str], language: str) -> Result:
        found_left = left(lookup, fields, language)
        found_right = right(lookup, fields, language) if found_left else None
        if not found_left or not found_right:
            return None
        close = [_close_to(found_left, found_right, distance), _close_to(found_right, found_left, distance)]
        return _union(close) or None

    return evaluate


_first_token, _last_token = itemgetter(1), itemgetter(2)  # Occurrence.first, .last


def _close_to(these: list[Occurrence], others: list[Occurrence], distance: int) -> list[Occurrence]:
    """The occurrences of `these` within `distance` words of one of `others`, each once.

    Two spans are that close when neither starts more than `distance` words after the other ends.
    Per field, the others sorted by start with the running maximum of their ends answer each
    occurrence in one bisection: time O(n log n) in the occurrences, never in their pairs (a chain
    like `a NEAR b NEAR c` over a text repeating a, b and c once kept every combination)."""
    other_fields = _by_field(others)
    close: list[Occurrence] = []
    for field_name, group in _by_field(these).items():
        nearby = other_fields.get(field_name)
        if nearby is None:
            continue
        nearby.sort(key=_first_token)
        starts = list(map(_first_token, nearby))
        furthest_end = list(accumulate(map(_last_token, nearby), max))
        for occurrence in group:
            _, first, last, _ = occurrence
            reachable = bisect_right(starts, last + distance)
            if reachable and furthest_end[reachable - 1] >= first - distance:
                close.append(occurrence)
    return close


def _by_field(occurrences: list[Occurrence]) -> dict[str, list[Occurrence]]:
    """The occurrences per field, as new lists (most of the time, all are in one field)."""
    first_field = occurrences[0].field if occurrences else ""
    if all(occurrence.field == first_field for occurrence in occurrences):
        return {first_field: list(occurrences)} if occurrences else {}
    groups: dict[str, list[Occurrence]] = {}
    for occurrence in occurrences:
        groups.setdefault(occurrence.field, []).append(occurrence)
    return groups


def _language_is(language: str, wanted: str | None) -> bool:
    return bool(wanted and language) and (language == wanted or language.startswith(f"{wanted}-"))


def evaluate(node: Node, article: MatchInput, lookup: Lookup | None = None) -> Result:
    """None when the query does not match; else the occurrences that made it match."""
    return run(compile_node(node), article, lookup)


def run(evaluator: Evaluator, article: MatchInput, lookup: Lookup | None = None) -> Result:
    """Evaluate a compiled query; without a lookup, terms are found by scanning the article."""

    if lookup is None:
        scanned: dict[tuple[Term, Sequence[str]], list[Occurrence]] = {}

        def lookup(term: Term, fields: Sequence[str]) -> list[Occurrence]:
            found = scanned.get((term, fields))
            if found is None:  # a term repeated in the query is scanned once
                found = [hit for name in fields for hit in scan_term(term, name, article.field(name))]
                scanned[term, fields] = found
            return found

    return evaluator(lookup, BODY_FIELDS, (article.language or "").lower())


def _reading_order(occurrence: Occurrence) -> tuple[int, int, int, str]:
    return _FIELD_ORDER[occurrence.field], occurrence.first, occurrence.last, occurrence.term.text


def rule_hits(
    rule: CompiledRule, article: MatchInput, lookup: Lookup | None = None, language: str | None = None
) -> list[Hit]:
    if lookup is None:
        occurrences = run(rule.evaluator, article)
    else:
        if language is None:
            language = (article.language or "").lower()
        occurrences = rule.evaluator(lookup, BODY_FIELDS, language)
    return [] if occurrences is None else hits_of(rule.name, article, occurrences)


def hits_of(rule: str, article: MatchInput, occurrences: list[Occurrence]) -> list[Hit]:
    """The hits of a rule that holds, from the occurrences that made it hold, in reading order."""
    if len(occurrences) == 1:
        name, first, last, term = occurrences[0]
        return [Hit(rule, term.text, *article.place((name, first, last)))]
    hits: list[Hit] = []
    seen: set[tuple[str, int, int]] = set()
    for name, first, last, term in sorted(occurrences, key=_reading_order):
        if (name, first, last) in seen:
            continue
        seen.add((name, first, last))
        hits.append(Hit(rule, term.text, *article.place((name, first, last))))
        if len(hits) >= MAX_HITS_PER_RULE:
            break
    if not hits:
        # A rule true only through NOT (e.g. "NOT sport") still matched: record it without a span.
        hits.append(Hit(rule=rule, term="", field="", start=0, end=0, snippet=""))
    return hits
