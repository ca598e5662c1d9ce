"""Properties over generated multilingual text: the automaton agrees with the scanning matcher,
and archive search returns exactly what the matcher matches, on every backend."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.archive import Archive, SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.pg_text import NO_GAPS, POSITIONS
from monitor.rules import CompiledRule, MatchInput, parse_query
from monitor.rules.automaton import Matcher
from monitor.rules.match import evaluate, rule_hits
from tests.archive.helpers import BACKENDS, archive_of, make_article

LATIN = ["iron", "dome", "domestic", "shield", "laser", "weapons", "taiwan", "japan", "straße", "café"]
# ﷺ, ⑴ and ½ fold (NFKC) to several words: "صلى الله عليه وسلم", "(1)", "1⁄2".
OTHER = [
    "железный",
    "купол",
    "железного",
    "куполом",
    "القبة",
    "الحديدية",
    "بالقبة",
    "صواريخ",
    "والصواريخ",
    "כיפת",
    "ברזל",
    "בכיפת",
    "아이언돔",
    "ﷺ",
    "⑴",
    "½",
]
CJK = ["台灣", "台湾", "之盾", "鐵穹", "铁穹", "アイアン", "ドーム", "防衛", "計画"]
SEPARATORS = [" ", " ", "-", "'s ", ", ", "・", "", "。"]
VOCABULARY = LATIN + OTHER + CJK
LANGUAGES = [None, "en", "en-GB", "zh", "zh-TW", "zh-Hant", "zh-HK", "zh-CN", "he", "ja"]


def document(rng: random.Random, words: int) -> str:
    parts: list[str] = []
    for _ in range(words):
        parts.append(rng.choice(VOCABULARY))
        parts.append(rng.choice(SEPARATORS) if parts[-1] in CJK else rng.choice(SEPARATORS[:6]))
    return "".join(parts)


word = st.sampled_from(VOCABULARY)
atom = st.one_of(
    word,
    word.map(lambda w: w[:3] + "*" if w.isascii() and len(w) > 3 else w),
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    word.map(lambda w: f"title:{w}"),
    st.sampled_from(
        [
            "lang:en",
            "lang:zh-tw",
            "lang:(he OR ja)",
            "lang:(zh NOT zh-TW)",
            "-lang:en",
            "lang:zh-hant",
            "lang:zh-hans",
        ]
    ),
)
query = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda q: f"(NOT {q})"),
        st.tuples(word, word, st.integers(1, 6)).map(lambda p: f"{p[0]} NEAR/{p[2]} {p[1]}"),
    ),
    max_leaves=5,
)


@cache
def corpus() -> list[MatchInput]:
    rng, languages = random.Random(7), random.Random(8)
    return [
        MatchInput(document(rng, 3), "", document(rng, 25), "Src", languages.choice(LANGUAGES))
        for _ in range(150)
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """The corpus stored in an archive of each backend."""
    with archive_of(request, tmp_path_factory.mktemp("property")) as store:
        documents = enumerate(corpus())
        store.store_new(
            [
                make_article(f"d{i}", title=doc.title, text=doc.text, language=doc.language, hits=())
                for i, doc in documents
            ],
            [],
        )
        yield store


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(query, min_size=1, max_size=6))
def test_automaton_agrees_with_scanning(queries: list[str]) -> None:
    rules = [CompiledRule(f"r{i}", text, parse_query(text)) for i, text in enumerate(queries)]
    matcher = Matcher(rules)
    for doc in corpus()[:40]:
        expected = [hit for rule in matcher.rules for hit in rule_hits(rule, doc)]
        assert matcher.match(doc) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query)
def test_search_returns_exactly_what_the_matcher_matches(archive: Archive, text: str) -> None:
    node = parse_query(text)
    expected = {f"d{i}" for i, doc in enumerate(corpus()) if evaluate(node, doc) is not None}
    found = archive.search(node, SearchFilters(limit=10_000))
    assert {item.article.id for item in found} == expected


@cache
def long_corpus() -> list[MatchInput]:
    """Short articles and long ones, each long one of a few words said thousands of times: past
    the 16,383rd word and 256 times a word, PostgreSQL's index keeps the words without all their
    positions (pg_text.py), and answers there what needs no positions."""
    rng = random.Random(11)
    short = [MatchInput(document(rng, 3), "", document(rng, 25), "Src", None) for _ in range(6)]
    long = []
    for _ in range(6):
        words = rng.sample(VOCABULARY, 8)
        text = "".join(rng.choice(words) + rng.choice(SEPARATORS[:6]) for _ in range(17_000))
        long.append(MatchInput(document(rng, 3), "", text, "Src", None))
    return short + long


@pytest.fixture(scope="module", params=BACKENDS)
def long_archive(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Archive]:
    with archive_of(request, tmp_path_factory.mktemp("long")) as store:
        store.store_new(
            [
                make_article(f"d{i}", title=doc.title, text=doc.text, language=doc.language, hits=())
                for i, doc in enumerate(long_corpus())
            ],
            [],
        )
        if isinstance(store, PostgresArchive):
            with store.db.read_cursor(None) as cursor:
                gaps = cursor.execute("SELECT search_gaps, count(*) FROM articles GROUP BY 1").fetchall()
            assert sorted(gaps) == [(NO_GAPS, 6), (POSITIONS, 6)]
        yield store


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query)
def test_search_over_articles_missing_positions_returns_what_the_matcher_matches(
    long_archive: Archive, text: str
) -> None:
    node = parse_query(text)
    expected = {f"d{i}" for i, doc in enumerate(long_corpus()) if evaluate(node, doc) is not None}
    found = long_archive.search(node, SearchFilters(limit=10_000))
    assert {item.article.id for item in found} == expected


@pytest.mark.parametrize("code", ["en", "en-gb", "zh", "zh-tw", "zh-hant", "zh-hans", "zh-hk", "zh-cn", "he"])
@pytest.mark.parametrize("text", ["", "dome OR 台灣", "NOT iron"])
def test_the_language_filter_finds_what_lang_in_the_query_does(
    archive: Archive, code: str, text: str
) -> None:
    # --lang zh-TW and ?lang=zh-TW are the SQL filter and the matcher together: they must find
    # what the rule's lang:zh-TW does, scripts and regions implied by CLDR's likely subtags
    # (zh-Hant is Taiwan's most likely, zh-HK Traditional Chinese's) on both backends.
    node = parse_query(f"lang:{code} ({text})" if text else f"lang:{code}")
    expected = {f"d{i}" for i, doc in enumerate(corpus()) if evaluate(node, doc) is not None}
    assert expected
    found = archive.search(parse_query(text) if text else None, SearchFilters(language=code, limit=10_000))
    assert {item.article.id for item in found} == expected


def test_the_generated_corpus_exercises_every_script(archive: Archive) -> None:
    for text in (
        '"iron dome"',
        "台灣之盾",
        "铁穹",
        "アイアンドーム",
        '"כיפת ברזל"',
        "القبة",
        "купол",
        "dome*",
        "lang:(zh NOT zh-TW)",
        "-lang:en",
        "lang:zh-hant",
        "lang:zh-hans",
        "lang:zh-tw -lang:zh-hk",
    ):
        node = parse_query(text)
        expected = {f"d{i}" for i, doc in enumerate(corpus()) if evaluate(node, doc) is not None}
        assert 0 < len(expected) < len(corpus()), text
        found = archive.search(node, SearchFilters(limit=10_000))
        assert {item.article.id for item in found} == expected, text
