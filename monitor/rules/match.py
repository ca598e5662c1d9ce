"""AST x article -> hits: one evaluator of the boolean logic, fed with term occurrences either
by scanning the article (one query: search, test-rule) or by the automaton (the rule set)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term
from monitor.rules.text import HEBREW_PREFIXES, TokenizedText, is_hebrew, snippet, tokenize

BODY_FIELDS = ("title", "summary", "text")
MAX_HITS_PER_RULE = 20
_FIELD_ORDER = {"title": 0, "summary": 1, "text": 2, "source": 3}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    query: str
    node: Node


@dataclass(slots=True)
class MatchInput:
    """The parts of an article a query looks at; tokenized once, shared by every rule."""

    title: str
    summary: str
    text: str
    source: str = ""
    language: str | None = None
    _fields: dict[str, TokenizedText] = field(default_factory=dict)

    def field(self, name: str) -> TokenizedText:
        if name not in self._fields:
            self._fields[name] = tokenize(getattr(self, name))
        return self._fields[name]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Tokens first..last of a field hold a term."""

    field: str
    first: int
    last: int
    term: Term


Lookup = Callable[[Term, str], list[Occurrence]]


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
    found: list[Occurrence] = []
    length = len(term.tokens)
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


class _Evaluator:
    def __init__(self, article: MatchInput, lookup: Lookup) -> None:
        self.article = article
        self.lookup = lookup

    def evaluate(self, node: Node, fields: Sequence[str] = BODY_FIELDS) -> list[Occurrence] | None:
        """None when the node is false; else the occurrences that made it true (maybe none)."""
        match node:
            case Term():
                found = [occurrence for name in fields for occurrence in self.lookup(node, name)]
                return found or None
            case Not(child=child):
                return None if self.evaluate(child, fields) is not None else []
            case Op(op="AND", children=children):
                collected: list[Occurrence] = []
                for child in children:
                    result = self.evaluate(child, fields)
                    if result is None:
                        return None
                    collected += result
                return collected
            case Op(children=children):
                results = [self.evaluate(child, fields) for child in children]
                matched = [result for result in results if result is not None]
                return [occurrence for result in matched for occurrence in result] if matched else None
            case Near():
                return self._near(node, fields)
            case Field(name="lang", child=child):
                return [] if self._language_is(child) else None
            case Field(name=name, child=child):
                return self.evaluate(child, (name,))

    def _near(self, node: Near, fields: Sequence[str]) -> list[Occurrence] | None:
        left = self.evaluate(node.left, fields) or []
        right = self.evaluate(node.right, fields) or []
        close = [
            (a, b)
            for a in left
            for b in right
            if a.field == b.field and max(a.first, b.first) - min(a.last, b.last) <= node.distance
        ]
        return [occurrence for pair in close for occurrence in pair] or None

    def _language_is(self, node: Node) -> bool:
        language = (self.article.language or "").lower()
        if not isinstance(node, Term) or not language:
            return False
        wanted = node.text.lower()
        return language == wanted or language.startswith(wanted + "-")


def evaluate(node: Node, article: MatchInput, lookup: Lookup | None = None) -> list[Occurrence] | None:
    """None when the query does not match; else the occurrences that made it match."""

    def scan(term: Term, name: str) -> list[Occurrence]:
        return scan_term(term, name, article.field(name))

    return _Evaluator(article, lookup or scan).evaluate(node)


def _reading_order(occurrence: Occurrence) -> tuple[int, int, int, str]:
    return _FIELD_ORDER[occurrence.field], occurrence.first, occurrence.last, occurrence.term.text


def rule_hits(rule: CompiledRule, article: MatchInput, lookup: Lookup | None = None) -> list[Hit]:
    occurrences = evaluate(rule.node, article, lookup)
    if occurrences is None:
        return []
    hits: list[Hit] = []
    seen: set[tuple[str, int, int]] = set()
    for occurrence in sorted(occurrences, key=_reading_order):
        doc = article.field(occurrence.field)
        start, end = doc.starts[occurrence.first], doc.ends[occurrence.last]
        if (occurrence.field, start, end) in seen:
            continue
        seen.add((occurrence.field, start, end))
        hits.append(
            Hit(
                rule=rule.name,
                term=occurrence.term.text,
                field=occurrence.field,
                start=start,
                end=end,
                snippet=snippet(doc.text, start, end),
            )
        )
        if len(hits) >= MAX_HITS_PER_RULE:
            break
    if not hits:
        # A rule true only through NOT (e.g. "NOT sport") still matched: record it without a span.
        hits.append(Hit(rule=rule.name, term="", field="", start=0, end=0, snippet=""))
    return hits
