"""The compiled rule set: one multi-pattern automaton (pyahocorasick) over every term.

One pass over an article's normalized tokens finds every occurrence of every term of every rule;
only the rules whose trigger terms occurred (see `triggers`; and rules that can hold with no
term at all, like `NOT sport`) are then evaluated. 10,000 rules cost little more than 10.

A field is scanned as " tok0 tok1 … tokN ": a term is the key " t0 t1 " (a prefix term leaves
the last space off), so keys match on token boundaries only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, islice
from operator import itemgetter

import ahocorasick
import numpy as np

from monitor.models import Hit
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, all_terms
from monitor.rules.match import (
    BODY_FIELDS,
    MAX_OCCURRENCES,
    CompiledRule,
    Found,
    MatchInput,
    Starts,
    hits_of,
    rule_hits,
    scan_term,
)
from monitor.rules.spellings import written_as_found, written_so
from monitor.rules.text import TokenizedText
from monitor.rules.word_forms import term_forms

SCANNED_FIELDS = (*BODY_FIELDS, "source")
MATCHES_AT_ONCE = 1 << 16
MATCHES_PER_TOKEN = 2  # beyond, a field's terms are scanned one by one (see Matcher._scan_terms)
_RULE_NAME = itemgetter(0)  # of a Hit
TermKey = tuple[tuple[str, ...], bool, bool]
# Where each term (by id) starts, per field: sorted arrays, 8 bytes an occurrence.
Spotted = dict[int, dict[str, Starts]]


def _term_key(term: Term) -> TermKey:
    """Terms found alike share a key (a rule's `irondome` is not its `"Iron Dome"` run together,
    which is checked in the text as written)."""
    return term.tokens, term.prefix, written_so(term)


def _patterns(term: Term) -> list[str]:
    tail = "" if term.prefix else " "
    return [" " + " ".join(form) + tail for form in term_forms(term)]


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
        self.terms: list[Term] = []  # by term id
        self.always: list[int] = []
        patterns: dict[str, set[int]] = {}
        for rule in self.rules:
            for term in all_terms(rule.node):
                term_id = self.term_ids.setdefault(_term_key(term), len(self.term_ids))
                if term_id == len(self.terms):
                    self.terms.append(term)
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
        self.written_so = [(term_id, term) for term_id, term in enumerate(self.terms) if written_so(term)]
        self.rules_of_term = [tuple(indexes) for indexes in rules_of_term]
        self.plain_of_term = [tuple(indexes) for indexes in plain_of_term]
        # A pattern's payload is its number; by number: how many tokens a match spans after its
        # first, and the terms it stands for.
        self.pattern_span_list = [pattern.count(" ", 1, -1) for pattern in patterns]
        self.pattern_spans = np.array(self.pattern_span_list, dtype=np.int64)
        self.pattern_terms = [tuple(sorted(ids)) for ids in patterns.values()]
        for number, pattern in enumerate(patterns):
            self.automaton.add_word(pattern, number)
        if patterns:
            self.automaton.make_automaton()
        self.has_patterns = bool(patterns)

    def _plain(self, rule: CompiledRule) -> tuple[tuple[int, Term], ...] | None:
        terms = plain_terms(rule.node)
        return None if terms is None else tuple((self.term_ids[_term_key(term)], term) for term in terms)

    def scan(self, article: MatchInput) -> Spotted:
        """Every occurrence of every term (by term id), those of terms found only where the text
        writes them so (rules/spellings.py) checked in the text."""
        spotted = self._spot(article)
        for term_id, term in self.written_so:
            fields = spotted.get(term_id)
            if fields is None:
                continue
            for name, starts in list(fields.items()):
                doc = article.field(name)
                # Past MAX_OCCURRENCES the automaton kept the first only, which the text may all
                # write otherwise: scanned, the term is checked before it is cut, as on its own.
                kept = (
                    scan_term(term, doc)
                    if len(starts) >= MAX_OCCURRENCES
                    else written_as_found(term, doc, starts)
                )
                if len(kept):
                    fields[name] = kept
                else:
                    del fields[name]
            if not fields:
                del spotted[term_id]
        return spotted

    def _spot(self, article: MatchInput) -> Spotted:
        """Every occurrence of every term (by term id), in one automaton pass per field.

        The pass only records where each match ends and which pattern it is (a text built to
        match many patterns at every word makes millions of matches); which token each starts
        in, and which terms it stands for, are worked out a batch of matches at a time."""
        spotted: Spotted = {}
        if not self.has_patterns:
            return spotted
        automaton_iter, tokenized = self.automaton.iter, article._fields
        for name in SCANNED_FIELDS:
            doc = tokenized.get(name) or article.field(name)
            if not doc.tokens:
                continue
            joined = doc.joined()
            matches, found, spaces = automaton_iter(joined), 0, None
            while batch := list(islice(matches, MATCHES_AT_ONCE)):  # bounded: memory stays flat
                found += len(batch)
                if found > MATCHES_PER_TOKEN * len(doc.tokens) + MATCHES_AT_ONCE:
                    self._scan_terms(spotted, name, doc)
                    break
                if spaces is None and len(batch) < MATCHES_AT_ONCE:  # the field's one batch: most are
                    self._record_few(spotted, name, joined, batch)
                    break
                if spaces is None:
                    # " t0 t1 … " has a space at 0 and after each token: a match ending at
                    # character e starts in the token after the spaces before e, less its span.
                    lengths = np.fromiter(map(len, doc.tokens), np.int64, len(doc.tokens))
                    spaces = np.concatenate(([0], np.cumsum(lengths + 1)))
                pairs = np.fromiter(chain.from_iterable(batch), np.int64, 2 * len(batch)).reshape(-1, 2)
                self._record(spotted, name, spaces, pairs[:, 0], pairs[:, 1])
        return spotted

    def _record_few(self, spotted: Spotted, name: str, joined: str, batch: list[tuple[int, int]]) -> None:
        """`_record` for a field with few matches (an article's usual handful), where counting
        the spaces before each match costs less than numbering every token of the field."""
        spans, pattern_terms = self.pattern_span_list, self.pattern_terms
        firsts: dict[int, list[int]] = {}
        gaps, counted_to = 0, 0
        for end, number in batch:
            gaps += joined.count(" ", counted_to, end)
            counted_to = end
            first = gaps - 1 - spans[number]
            for term_id in pattern_terms[number]:
                firsts.setdefault(term_id, []).append(first)
        for term_id, found in firsts.items():
            spotted.setdefault(term_id, {})[name] = np.array(found[:MAX_OCCURRENCES], dtype=np.int64)

    def _scan_terms(self, spotted: Spotted, name: str, doc: TokenizedText) -> None:
        """A text that makes terms overlap at every word (`"a a"`, `"a a a"`, … over `a a a …`)
        gives the automaton many matches per word, each a Python object: past a few per word,
        the field's terms are looked for one by one instead, each in all positions at once (a
        term with a word the text lacks costs a dictionary lookup)."""
        for fields in spotted.values():
            fields.pop(name, None)
        for term_id, term in enumerate(self.terms):
            starts = scan_term(term, doc)
            if len(starts):
                spotted.setdefault(term_id, {})[name] = starts

    def _record(self, spotted: Spotted, name: str, spaces: Starts, ends: Starts, numbers: Starts) -> None:
        """Add a batch of matches, in text order, to the terms they stand for; each term keeps its
        first MAX_OCCURRENCES in a field."""
        firsts = np.searchsorted(spaces, ends, side="left") - 1 - self.pattern_spans[numbers]
        order = np.argsort(numbers, kind="stable")  # by pattern, each still in text order
        numbers, firsts = numbers[order], firsts[order]
        bounds = np.flatnonzero(np.diff(numbers)) + 1
        patterns = numbers[np.concatenate(([0], bounds))].tolist()
        for number, starts in zip(patterns, np.split(firsts, bounds), strict=True):
            for term_id in self.pattern_terms[number]:
                fields = spotted.setdefault(term_id, {})
                known = fields.get(name)
                if known is None:
                    fields[name] = starts[:MAX_OCCURRENCES].copy()  # not a view: the batch goes
                elif len(known) < MAX_OCCURRENCES:  # a later batch, or another form of the term
                    fields[name] = np.union1d(known, starts)[:MAX_OCCURRENCES]

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
                    first = int(starts[0])
                    only = (field_name, first, first + len(self.terms[term_id].tokens) - 1)
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
            (name, term): starts
            for term_id, term in self.plain[index] or ()
            for name, starts in spotted.get(term_id, {}).items()
            if name != "source"  # a term in the source name alone does not make a hit
        }
        return hits_of(self.rules[index].name, article, found) if found else []

    def _evaluate(self, candidates: list[int], article: MatchInput, spotted: Spotted) -> list[Hit]:
        """The hits of the rules that are more than an OR of terms."""
        term_ids = self.term_ids

        def lookup(term: Term, fields: Sequence[str]) -> Found:
            where = spotted.get(term_ids[_term_key(term)])
            if not where:
                return {}
            return {(name, term): where[name] for name in fields if name in where}

        language = (article.language or "").lower()
        hits: list[Hit] = []
        for index in candidates:
            hits += rule_hits(self.rules[index], article, lookup, language)
        return hits
