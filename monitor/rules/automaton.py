"""The compiled rule set: one multi-pattern automaton (pyahocorasick) over every term.

One pass over an article's normalized tokens finds every occurrence of every term of every rule;
only the rules whose trigger terms occurred (see `triggers`; and rules that can hold with no
term at all, like `NOT sport`) are then evaluated. 10,000 rules cost little more than 10.

A field is scanned as " tok0 tok1 … tokN ": a term is the key " t0 t1 " (a prefix term leaves
the last space off), so keys match on token boundaries only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

import ahocorasick

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, all_terms
from monitor.rules.match import BODY_FIELDS, CompiledRule, MatchInput, Occurrence, rule_hits
from monitor.rules.text import HEBREW_PREFIXES, TokenizedText, is_hebrew

SCANNED_FIELDS = (*BODY_FIELDS, "source")
TermKey = tuple[tuple[str, ...], bool]
Found = dict[TermKey, list[tuple[str, int, int]]]


def _term_key(term: Term) -> TermKey:
    return term.tokens, term.prefix


def _patterns(term: Term) -> list[str]:
    forms = [term.tokens]
    if is_hebrew(term.tokens[0]):
        forms += [(letter + term.tokens[0], *term.tokens[1:]) for letter in HEBREW_PREFIXES]
    tail = "" if term.prefix else " "
    return [" " + " ".join(form) + tail for form in forms]


def triggers(node: Node) -> set[TermKey] | None:
    """Terms of which at least one occurs in every article the query matches.

    None when no such set exists (the query can hold with none of its terms: `NOT sport`, a
    `lang:` test); such a rule is evaluated for every article. For AND (and NEAR) one child's
    set suffices, the smallest; for OR it takes the union.
    """
    match node:
        case Term():
            return {_term_key(node)}
        case Not() | Field(name="lang"):
            return None
        case Field(child=child):
            return triggers(child)
        case Near(left=left, right=right):
            return _smallest([triggers(left), triggers(right)])
        case Op(op="AND", children=children):
            return _smallest([triggers(child) for child in children])
        case Op(children=children):
            sets = [triggers(child) for child in children]
            return None if any(part is None for part in sets) else set().union(*sets)  # type: ignore[arg-type]


def _smallest(sets: list[set[TermKey] | None]) -> set[TermKey] | None:
    known = [part for part in sets if part is not None]
    return min(known, key=len) if known else None


class Matcher:
    """All watch rules, compiled once; `match` returns every hit of every rule."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = sorted(rules, key=lambda rule: rule.name)
        self.automaton = ahocorasick.Automaton()
        self.rules_of_term: dict[TermKey, list[int]] = {}
        self.always: list[int] = []
        patterns: dict[str, set[tuple[TermKey, int]]] = {}
        for index, rule in enumerate(self.rules):
            needed = triggers(rule.node)
            if needed is None:
                self.always.append(index)
            for key in needed or ():
                self.rules_of_term.setdefault(key, []).append(index)
            for term in all_terms(rule.node):
                key = _term_key(term)
                for pattern in _patterns(term):
                    patterns.setdefault(pattern, set()).add((key, len(term.tokens) - 1))
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
        for key in found:
            candidates.update(self.rules_of_term.get(key, ()))

        def lookup(term: Term, fields: Sequence[str]) -> list[Occurrence]:
            spans = found.get((term.tokens, term.prefix))
            if not spans:
                return []
            return [Occurrence(name, first, last, term) for name, first, last in spans if name in fields]

        hits: list[Hit] = []
        for index in sorted(candidates):
            hits += rule_hits(self.rules[index], article, lookup)
        return hits


def _scan_field(automaton: ahocorasick.Automaton, name: str, doc: TokenizedText, found: Found) -> None:
    joined, starts = doc.joined()
    for end, (length, keys) in automaton.iter(joined):
        first = bisect_left(starts, end - length + 2)
        for key, more_tokens in keys:
            found.setdefault(key, []).append((name, first, first + more_tokens))
