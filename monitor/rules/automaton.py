"""The compiled rule set: one multi-pattern automaton (pyahocorasick) over every term.

One pass over an article's normalized tokens finds every occurrence of every term of every rule;
only the rules whose terms occurred (and rules that hold with no term at all, like `NOT sport`)
are then evaluated. 10,000 rules cost little more than 10.

A field is scanned as " tok0 tok1 … tokN ": a term is the key " t0 t1 " (a prefix term leaves
the last space off), so keys match on token boundaries only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate

import ahocorasick

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, all_terms
from monitor.rules.match import (
    BODY_FIELDS,
    CompiledRule,
    MatchInput,
    Occurrence,
    evaluate,
    rule_hits,
)
from monitor.rules.text import HEBREW_PREFIXES, TokenizedText, is_hebrew

SCANNED_FIELDS = (*BODY_FIELDS, "source")
TermKey = tuple[tuple[str, ...], bool]
Found = dict[tuple[TermKey, str], list[tuple[int, int]]]


def _term_key(term: Term) -> TermKey:
    return term.tokens, term.prefix


def _patterns(term: Term) -> list[str]:
    forms = [term.tokens]
    if is_hebrew(term.tokens[0]):
        forms += [(letter + term.tokens[0], *term.tokens[1:]) for letter in HEBREW_PREFIXES]
    tail = "" if term.prefix else " "
    return [" " + " ".join(form) + tail for form in forms]


def _needs_no_terms(node: Node) -> bool:
    """Whether the query can be true of an article in which none of its terms occur.

    A `lang:` test does not depend on terms, so a query holding one is always evaluated.
    """
    if _tests_language(node):
        return True
    empty = MatchInput("", "", "")
    return evaluate(node, empty, lambda term, field: []) is not None


def _tests_language(node: Node) -> bool:
    match node:
        case Field(name="lang"):
            return True
        case Field(child=child) | Not(child=child):
            return _tests_language(child)
        case Op(children=children):
            return any(_tests_language(child) for child in children)
        case Near(left=left, right=right):
            return _tests_language(left) or _tests_language(right)
        case _:
            return False


class Matcher:
    """All watch rules, compiled once; `match` returns every hit of every rule."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = sorted(rules, key=lambda rule: rule.name)
        self.automaton = ahocorasick.Automaton()
        self.rules_of_term: dict[TermKey, list[int]] = {}
        self.always: list[int] = []
        patterns: dict[str, set[tuple[TermKey, int]]] = {}
        for index, rule in enumerate(self.rules):
            if _needs_no_terms(rule.node):
                self.always.append(index)
            for term in all_terms(rule.node):
                key = _term_key(term)
                users = self.rules_of_term.setdefault(key, [])
                if not users or users[-1] != index:
                    users.append(index)
                for pattern in _patterns(term):
                    patterns.setdefault(pattern, set()).add((key, len(term.tokens)))
        for pattern, keys in patterns.items():
            self.automaton.add_word(pattern, (len(pattern), tuple(keys)))
        if patterns:
            self.automaton.make_automaton()
        self.has_patterns = bool(patterns)

    def scan(self, article: MatchInput) -> Found:
        """Every occurrence of every term, by field, in one automaton pass per field."""
        found: Found = {}
        if not self.has_patterns:
            return found
        for name in SCANNED_FIELDS:
            doc = article.field(name)
            if doc.tokens:
                _scan_field(self.automaton, name, doc, found)
        return found

    def match(self, article: MatchInput) -> list[Hit]:
        found = self.scan(article)
        candidates = set(self.always)
        for key, _field in found:
            candidates.update(self.rules_of_term.get(key, ()))

        def lookup(term: Term, name: str) -> list[Occurrence]:
            spans = found.get((_term_key(term), name), ())
            return [Occurrence(name, first, last, term) for first, last in spans]

        hits: list[Hit] = []
        for index in sorted(candidates):
            hits += rule_hits(self.rules[index], article, lookup)
        return hits


def _scan_field(automaton: ahocorasick.Automaton, name: str, doc: TokenizedText, found: Found) -> None:
    joined = " " + " ".join(doc.tokens) + " "
    # Offset of each token's first character in `joined`.
    starts = list(accumulate((len(token) + 1 for token in doc.tokens[:-1]), initial=1))
    for end, (length, keys) in automaton.iter(joined):
        first = bisect_left(starts, end - length + 2)
        for key, size in keys:
            found.setdefault((key, name), []).append((first, first + size - 1))
