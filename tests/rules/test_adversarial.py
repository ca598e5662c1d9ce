"""Rules against adversarial texts: proximity stays linear in the occurrences, and queries too
deep or too long for the stack, the matcher or FTS5 are refused with a parse error."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.archive import SearchFilters
from monitor.archive.sql import SqlArchive
from monitor.errors import QueryError
from monitor.rules import MatchInput, parse_query, terms_query
from monitor.rules.ast import Near, Node, Term
from monitor.rules.automaton import Matcher
from monitor.rules.lex import MAX_DISTANCE
from monitor.rules.match import (
    MAX_OCCURRENCES,
    CompiledRule,
    Found,
    Lookup,
    Result,
    compile_node,
    evaluate,
    rule_hits,
    scan_term,
)
from monitor.rules.parse import MAX_DEPTH, MAX_NEAR, MAX_PHRASE, MAX_TERMS
from monitor.rules.text import tokenize
from tests.archive.helpers import make_article

WORDS = ["iron", "dome", "system", "laser", "beam"]


Place = tuple[str, int, int, str]  # field, first and last token, term


def places(found: Result) -> list[Place] | None:
    if found is None:
        return None
    return sorted(
        (name, first, first + len(term.tokens) - 1, term.text)
        for (name, term), starts in found.items()
        for first in starts.tolist()
    )


def pairwise(node: Node, article: MatchInput) -> list[Place] | None:
    """The definition of NEAR, evaluated the obvious way (every pair), for small texts."""
    if not isinstance(node, Near):
        return places(evaluate(node, article))
    left, right = pairwise(node.left, article), pairwise(node.right, article)
    close = {
        place
        for a in left or []
        for b in right or []
        if a[0] == b[0] and max(a[1], b[1]) - min(a[2], b[2]) <= node.distance
        for place in (a, b)
    }
    return sorted(close) or None


near_chain = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=MAX_NEAR + 1),
    st.lists(st.integers(1, 6), min_size=MAX_NEAR, max_size=MAX_NEAR),
).map(lambda p: " ".join(f"{w} NEAR/{d}" for w, d in zip(p[0][:-1], p[1], strict=False)) + f" {p[0][-1]}")


@settings(max_examples=300, deadline=None)
@given(near_chain, st.lists(st.sampled_from([*WORDS, "the", "of"]), min_size=0, max_size=60))
def test_near_keeps_exactly_the_occurrences_the_definition_keeps(query: str, words: list[str]) -> None:
    node = parse_query(query)
    article = MatchInput(" ".join(words[:5]), "", " ".join(words))
    assert places(evaluate(node, article)) == pairwise(node, article)


def counting_lookup(article: MatchInput) -> tuple[Lookup, list[int]]:
    counts = [0]

    def lookup(term: Term, fields: Sequence[str]) -> Found:
        found = {
            (name, term): starts for name in fields if len(starts := scan_term(term, article.field(name)))
        }
        counts[0] += sum(len(starts) for starts in found.values())
        return found

    return lookup, counts


@settings(max_examples=25, deadline=None)
@given(near_chain, st.integers(0, 2**32))
def test_a_near_chain_on_a_text_repeating_its_terms_stays_linear(query: str, seed: int) -> None:
    rng = random.Random(seed)
    text = " ".join(rng.choice(WORDS) for _ in range(20_000))  # 120 KB: every word recurs ~4,000 times
    article = MatchInput("", "", text)
    article.field("text").token_ids()
    evaluator = compile_node(parse_query(query))
    evaluator(counting_lookup(article)[0], ("text",), "")  # numpy loads parts of itself on first use
    lookup, looked_up = counting_lookup(article)
    tracemalloc.start()
    result = evaluator(lookup, ("text",), "")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Each NEAR keeps each occurrence at most once: never more than its terms had, never pairs.
    assert result is None or sum(len(starts) for starts in result.values()) <= looked_up[0]
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB for {query!r}"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nests deeper than"),
        ("NOT " * 400 + "a", "nests deeper than"),
        ("-" * 400 + "a", "nests deeper than"),
        ("title:" + "(" * 40 + "a" + ")" * 40, "nests deeper than"),
        ("title:(" * 40 + "a" + ")" * 40, "fields do not nest"),
        (" NEAR/3 ".join(["iron"] * 100), f"at most {MAX_NEAR} times"),
        (" OR ".join(f"w{i}" for i in range(MAX_TERMS + 1)), f"at most {MAX_TERMS} words"),
        ('"' + "a " * (MAX_PHRASE + 1) + '"', f"a phrase may hold at most {MAX_PHRASE} words"),
        ("iron NEAR/99999999999999999999999 dome", f"NEAR/n takes at most {MAX_DISTANCE:,} words"),
        ("iron NEAR/0 dome", "NEAR/0 never matches"),  # a review found it accepted, matching nothing
    ],
)
def test_queries_too_deep_or_too_long_are_parse_errors(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


def test_the_bounds_admit_what_analysts_write() -> None:
    parse_query("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    parse_query(" NEAR/3 ".join(WORDS[: MAX_NEAR + 1]))
    parse_query(" OR ".join(f"w{i}" for i in range(MAX_TERMS)))
    terms_query([f"w{i}" for i in range(MAX_TERMS)])
    with pytest.raises(QueryError, match="at most"):
        terms_query([f"w{i}" for i in range(MAX_TERMS + 1)])


def test_the_deepest_and_longest_queries_allowed_run_in_the_archive(tmp_path: Path) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'deep.db'}")
    archive.store_new([make_article("a1", title="iron dome", text="iron dome system laser beam")], [])
    alternating = "iron"
    for level in range(MAX_DEPTH):
        alternating = f"(dome OR {alternating})" if level % 2 else f"(beam AND {alternating})"
    queries = [
        alternating,
        "NOT " * (MAX_DEPTH - 1) + "(iron OR dome)",
        " NEAR/3 ".join(WORDS[: MAX_NEAR + 1]),
        " OR ".join(["iron", *(f"w{i}" for i in range(MAX_TERMS - 1))]),
        " AND ".join(["(iron OR dome)"] * (MAX_TERMS // 2)),
    ]
    stored = MatchInput("iron dome", "", "iron dome system laser beam")
    for query in queries:
        node = parse_query(query)
        found = archive.search(node, SearchFilters(limit=10))
        expected = [] if evaluate(node, stored) is None else ["a1"]
        assert [item.article.id for item in found] == expected, query


OVERLAPPING_PARTS = " AND ".join(["(iron OR dome)", "(dome OR iron)", "(iron OR dome OR iron)"] * 30)


def test_parts_that_share_terms_keep_each_occurrence_once() -> None:
    article = MatchInput("", "", "iron dome " * 5_000)
    found = places(evaluate(parse_query(OVERLAPPING_PARTS), article))
    assert found is not None and len(found) == len(set(found)) == 10_000


def test_the_rule_set_keeps_each_occurrence_once_too() -> None:
    rule = CompiledRule("overlap", OVERLAPPING_PARTS, parse_query(OVERLAPPING_PARTS))
    matcher, article = Matcher([rule]), MatchInput("", "", "iron dome " * 5_000)
    matcher.match(MatchInput("", "", "warm up"))
    tracemalloc.start()
    hits = matcher.match(article)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [hit.term for hit in hits][:2] == ["iron", "dome"]
    # 10,000 occurrences take about 1 MiB; one copy per part would take a hundred times more.
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_a_long_text_of_few_words_tokenizes_compactly() -> None:
    text = "iron dome system " * 58_823  # 1 MB, 176,469 tokens
    tracemalloc.start()
    tokenized = tokenize(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(tokenized.tokens) == 176_469 and tokenized.ends[-1] == len(text) - 1
    # Shared token strings and machine-integer offsets: about 12 MiB (a list of ints and a string
    # per token took 34 MiB).
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_a_text_that_overlaps_every_term_at_every_word_matches_as_scanning_does() -> None:
    nested = " OR ".join('"' + " ".join("a" * length) + '"' for length in range(1, MAX_PHRASE + 1))
    queries = [nested, "a NEAR/3 b", '"a a" AND NOT c', "x*"]
    rules = [CompiledRule(f"r{number}", query, parse_query(query)) for number, query in enumerate(queries)]
    # 16 matches a word: the rule set leaves its automaton for scanning term by term.
    article = MatchInput("a b", "", "a " * 30_000 + "b x1 a")
    expected = [hit for rule in sorted(rules, key=lambda rule: rule.name) for hit in rule_hits(rule, article)]
    assert Matcher(rules).match(MatchInput("a b", "", "a " * 30_000 + "b x1 a")) == expected
    assert {hit.rule for hit in expected} == {"r0", "r1", "r2", "r3"}


def test_a_term_keeps_its_first_occurrences_in_a_field_on_both_paths() -> None:
    text = "dome " * (MAX_OCCURRENCES + 50) + "iron"
    rule = CompiledRule("late", "iron NEAR/10 dome", parse_query("iron NEAR/10 dome"))
    # The domes next to "iron" are past the bound: neither path sees them, both alike.
    assert rule_hits(rule, MatchInput("", "", text)) == Matcher([rule]).match(MatchInput("", "", text)) == []
    near = "dome " * 10 + "iron " + "dome " * (MAX_OCCURRENCES + 50)
    assert Matcher([rule]).match(MatchInput("", "", near)) == rule_hits(rule, MatchInput("", "", near)) != []


def test_a_term_checked_in_the_text_is_checked_before_its_occurrences_are_cut() -> None:
    """A second review: past MAX_OCCURRENCES written otherwise, the rule set found nothing where a
    search found the one written so."""
    text = "the s 400 " * (MAX_OCCURRENCES + 1) + " and the S-400 system"
    rule = CompiledRule("r", "S-400", parse_query("S-400"))
    on_its_own = rule_hits(rule, MatchInput("", "", text))
    in_the_rule_set = Matcher([rule]).match(MatchInput("", "", text))
    assert (
        [hit.start for hit in on_its_own] == [hit.start for hit in in_the_rule_set] == [text.index("S-400")]
    )
