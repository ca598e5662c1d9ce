"""The compiled rule set: one multi-pattern automaton (pyahocorasick) over every term.

One pass over an article's normalized tokens finds every occurrence of every term of every rule;
only the rules whose trigger terms occurred (see `triggers`; and rules that can hold with no
term at all, like `NOT sport`) are then evaluated. 10,000 rules cost little more than 10.

A field is scanned as " tok0 tok1 … tokN ": a term is the key " t0 t1 " (a prefix term leaves
the last space off), so keys match on token boundaries only.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter

import ahocorasick
import numpy as np

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, all_terms
from monitor.rules.match import BODY_FIELDS, CompiledRule, Found, MatchInput, hits_of, rule_hits
from monitor.rules.text import HEBREW_PREFIXES, is_hebrew

SCANNED_FIELDS = (*BODY_FIELDS, "source")
_RULE_NAME = itemgetter(0)  # of a Hit
TermKey = tuple[tuple[str, ...], bool]
# Where each term (by id) starts, per field: machine integers in text order, 8 bytes an occurrence.
Spotted = dict[int, dict[str, "array[int]"]]


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


def plain_terms(node: Node) -> tuple[Term, ...] | None:
    """The terms of a query that is only an OR of terms (or one term), else None: such a rule
    holds exactly where one of its terms occurs, and its hits are those occurrences."""
    match node:
        case Term():
            return (node,)
        case Op(op="OR", children=children):
            parts = [plain_terms(child) for child in children]
            if any(part is None for part in parts):
                return None
            return tuple(term for part in parts for term in part or ())
        case _:
            return None


def required(node: Node) -> list[set[TermKey]]:
    """Groups of terms such that every article the query matches holds a term of each group:
    a cheap test that rules out most candidate rules before their evaluation (`a AND b` needs
    {a} and {b}; `a OR b` needs {a, b}; a negation or a `lang:` test needs nothing)."""
    match node:
        case Term():
            return [{_term_key(node)}]
        case Not() | Field(name="lang"):
            return []
        case Field(child=child):
            return required(child)
        case Near(left=left, right=right):
            return required(left) + required(right)
        case Op(op="AND", children=children):
            return [group for child in children for group in required(child)]
        case Op():
            needed = triggers(node)
            return [] if needed is None else [needed]


def _smallest(sets: list[set[TermKey] | None]) -> set[TermKey] | None:
    known = [part for part in sets if part is not None]
    return min(known, key=len) if known else None


class Matcher:
    """All watch rules, compiled once; `match` returns every hit of every rule.

    Terms are numbered (equal terms of different rules share a number), so the automaton's
    payloads, the occurrences found and the rules each term triggers are indexed by small ints.
    """

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = sorted(rules, key=lambda rule: rule.name)
        self.automaton = ahocorasick.Automaton()
        self.term_ids: dict[TermKey, int] = {}
        self.length_of_term: list[int] = []  # in tokens, by term id
        self.always: list[int] = []
        patterns: dict[str, set[int]] = {}
        for rule in self.rules:
            for term in all_terms(rule.node):
                term_id = self.term_ids.setdefault(_term_key(term), len(self.term_ids))
                if term_id == len(self.length_of_term):
                    self.length_of_term.append(len(term.tokens))
                for pattern in _patterns(term):
                    patterns.setdefault(pattern, set()).add(term_id)
        rules_of_term: list[list[int]] = [[] for _ in self.term_ids]
        plain_of_term: list[list[tuple[int, str, str]]] = [[] for _ in self.term_ids]
        self.required: list[tuple[frozenset[int], ...]] = []
        self.plain = [self._plain(rule) for rule in self.rules]
        for index, rule in enumerate(self.rules):
            if self.plain[index] is not None:
                for term_id, term in self.plain[index] or ():
                    plain_of_term[term_id].append((index, rule.name, term.text))
                self.required.append(())
                continue
            needed = triggers(rule.node)
            if needed is None:
                self.always.append(index)
            for key in needed or ():
                rules_of_term[self.term_ids[key]].append(index)
            # A group holding every trigger term holds whenever the rule is a candidate.
            groups = [group for group in required(rule.node) if needed is None or not needed <= group]
            self.required.append(tuple(frozenset(self.term_ids[key] for key in group) for group in groups))
        self.rules_of_term = [tuple(indexes) for indexes in rules_of_term]
        self.plain_of_term = [tuple(indexes) for indexes in plain_of_term]
        for pattern, ids in patterns.items():
            # The payload: how many tokens the match spans after its first, and its terms.
            self.automaton.add_word(pattern, (pattern.count(" ", 1, -1), tuple(sorted(ids))))
        if patterns:
            self.automaton.make_automaton()
        self.has_patterns = bool(patterns)

    def _plain(self, rule: CompiledRule) -> tuple[tuple[int, Term], ...] | None:
        terms = plain_terms(rule.node)
        return None if terms is None else tuple((self.term_ids[_term_key(term)], term) for term in terms)

    def scan(self, article: MatchInput) -> Spotted:
        """Every occurrence of every term (by term id), in one automaton pass per field."""
        spotted: Spotted = {}
        if not self.has_patterns:
            return spotted
        automaton_iter, tokenized = self.automaton.iter, article._fields
        for name in SCANNED_FIELDS:
            doc = tokenized.get(name) or article.field(name)
            if not doc.tokens:
                continue
            joined = doc.joined()
            # Matches come in text order, so the token a match ends in is found by counting
            # the gaps since the previous match: one pass over the text at C speed in all.
            gaps, counted_to = 0, 0
            for end, (more_tokens, ids) in automaton_iter(joined):
                gaps += joined.count(" ", counted_to, end)
                counted_to = end
                first = gaps - 1 - more_tokens
                for term_id in ids:
                    fields = spotted.get(term_id)
                    if fields is None:
                        spotted[term_id] = {name: array("q", (first,))}
                    elif name in fields:
                        fields[name].append(first)
                    else:
                        fields[name] = array("q", (first,))
        return spotted

    def match(self, article: MatchInput) -> list[Hit]:
        spotted = self.scan(article)
        candidates = set(self.always)
        # Rules that are an OR of terms (most watch rules) hold wherever one of their terms
        # occurs; reached by one occurrence, such a rule has one hit. `reached` maps each to
        # that occurrence, or to None when more than one made it hold.
        reached: dict[int, tuple[str, str, tuple[str, int, int]] | None] = {}
        rules_of_term, plain_of_term = self.rules_of_term, self.plain_of_term
        for term_id, fields in spotted.items():
            triggered = rules_of_term[term_id]
            if triggered:
                candidates.update(triggered)
            if not plain_of_term[term_id]:
                continue
            only: tuple[str, int, int] | None = None  # the term's one occurrence, if it has one
            if len(fields) == 1:
                [(field_name, starts)] = fields.items()
                if len(starts) == 1:
                    only = (field_name, starts[0], starts[0] + self.length_of_term[term_id] - 1)
            for index, name, text in plain_of_term[term_id]:
                reached[index] = None if index in reached or only is None else (name, text, only)
        hits: list[Hit] = []
        place, placed = article.place, article._places.get
        for index, once in reached.items():
            if once is None:
                hits += self._plain_hits(index, article, spotted)
            elif once[2][0] != "source":
                hits.append(Hit(once[0], once[1], *(placed(once[2]) or place(once[2]))))
        if candidates:
            found_terms, required = spotted.keys(), self.required
            # Most candidates lack a term they need: ruled out here, before their evaluation.
            survivors = [
                index for index in candidates if not any(map(found_terms.isdisjoint, required[index]))
            ]
            if survivors:
                hits += self._evaluate(sorted(survivors), article, spotted)
        if len(reached) + len(candidates) > 1:
            hits.sort(key=_RULE_NAME)  # stable: the hits of a rule stay in reading order
        return hits

    def _plain_hits(self, index: int, article: MatchInput, spotted: Spotted) -> list[Hit]:
        found: Found = {
            (name, term): np.frombuffer(starts, dtype=np.int64)
            for term_id, term in self.plain[index] or ()
            for name, starts in spotted.get(term_id, {}).items()
            if name != "source"  # a term in the source name alone does not make a hit
        }
        return hits_of(self.rules[index].name, article, found) if found else []

    def _evaluate(self, candidates: list[int], article: MatchInput, spotted: Spotted) -> list[Hit]:
        """The hits of the rules that are more than an OR of terms."""
        term_ids = self.term_ids

        def lookup(term: Term, fields: Sequence[str]) -> Found:
            where = spotted.get(term_ids[(term.tokens, term.prefix)])
            if not where:
                return {}
            # Automaton matches arrive in text order, so each field's starts are sorted already.
            return {
                (name, term): np.frombuffer(where[name], dtype=np.int64) for name in fields if name in where
            }

        language = (article.language or "").lower()
        hits: list[Hit] = []
        for index in candidates:
            hits += rule_hits(self.rules[index], article, lookup, language)
        return hits
