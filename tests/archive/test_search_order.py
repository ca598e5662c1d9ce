"""Search reads the index's matches in storing order and stops early; its answer must still be
the newest by publication, whatever order the articles were stored in."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.archive import Archive, SearchFilters, pg_search, search_sql
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.rule_names import SPELLINGS_KEPT, RuleSpellings
from monitor.archive.search import index_exact
from monitor.archive.search_sql import ArticleRow
from monitor.archive.sql import SqlArchive
from monitor.models import Hit
from monitor.rules import parse_query
from monitor.rules.match import Evaluator
from tests.archive.conftest import ArchiveOpener
from tests.archive.helpers import BACKENDS, NOW, archive_of, as_before_alembic, make_article

Shuffled = tuple[Archive, dict[str, tuple[str, datetime]]]


@pytest.fixture(scope="module", params=BACKENDS)
def shuffled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shuffled]:
    """1,500 articles stored in batches, their publication times mostly rising with storing
    order but some far off (old news found late, a few dated ahead)."""
    with archive_of(request, tmp_path_factory.mktemp("order")) as archive:
        yield archive, _store_shuffled(archive)


def _store_shuffled(archive: Archive) -> dict[str, tuple[str, datetime]]:
    rng = random.Random(3)
    texts: dict[str, tuple[str, datetime]] = {}
    batch = []
    for index in range(1500):
        key = f"s{index:05d}"
        published = NOW + timedelta(minutes=index)
        if rng.random() < 0.05:
            published = NOW + timedelta(minutes=rng.randint(-5000, 3000))
        words = ["budget" if rng.random() < 0.6 else "talks", "radar" if index % 97 == 0 else "coast"]
        if index % 13 == 0:
            words.append("air defence")
        text = " ".join(words) + " hearings."
        texts[key] = (text, published)
        batch.append(make_article(key, title=f"Report {index}", text=text, published=published, hits=()))
        if len(batch) == 100:
            archive.store_new(batch, [])
            batch = []
    return texts


QUERIES = ["budget", "radar", '"air defence"', "budget AND coast", "radar OR talks"]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("limit", [1, 7, 50, 2000])
def test_the_newest_by_publication_whatever_the_storing_order(
    shuffled: Shuffled, query: str, limit: int
) -> None:
    archive, texts = shuffled
    assert _ids(archive, query, limit) == _expected(texts, query, limit)


@pytest.mark.parametrize("query", QUERIES)
def test_pages_after_an_article_continue_the_order(shuffled: Shuffled, query: str) -> None:
    """Page by page (each after the last article shown), the same articles as in one search."""
    archive, texts = shuffled
    node, shown = parse_query(query), []
    after = None
    while True:
        page = archive.search(node, SearchFilters(limit=7, after=after))
        shown += [item.article.id for item in page]
        if len(page) < 7:
            break
        after = (page[-1].article.published, page[-1].article.id)
    assert shown == _expected(texts, query, 2000)


def test_a_page_is_unmoved_by_articles_stored_since(open_archive: ArchiveOpener) -> None:
    """Newer articles come before the page read; one published in the same second as the last
    shown, stored later, comes before it too; an article gone since still marks the place."""
    archive = open_archive()
    batch = [
        make_article(
            f"p{index}", text="Budget talks.", hits=(), published=NOW - timedelta(minutes=index // 2)
        )
        for index in range(10)
    ]
    archive.store_new(batch, [])
    first = archive.search(parse_query("budget"), SearchFilters(limit=4))
    after = (first[-1].article.published, first[-1].article.id)
    archive.store_new(
        [
            make_article("later", text="Budget talks.", hits=(), published=NOW + timedelta(hours=1)),
            make_article("same", text="Budget talks.", hits=(), published=after[0]),
        ],
        [],
    )
    rest = archive.search(parse_query("budget"), SearchFilters(limit=20, after=after))
    everything = [item.article.id for item in archive.search(parse_query("budget"), SearchFilters(limit=20))]
    assert [item.article.id for item in rest] == everything[everything.index(after[1]) + 1 :]
    assert "later" not in [item.article.id for item in rest] and "same" not in [
        item.article.id for item in rest
    ]
    gone = (after[0], "purged-meanwhile")
    again = [
        item.article.id for item in archive.search(parse_query("budget"), SearchFilters(limit=20, after=gone))
    ]
    published = {key: item.article.published for key, item in archive.articles(everything).items()}
    assert again == [key for key in everything if published[key] <= after[0]]


@pytest.fixture(scope="module")
def shuffled_on_postgresql(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shuffled]:
    with archive_of(request, tmp_path_factory.mktemp("order"), "postgresql") as archive:
        yield archive, _store_shuffled(archive)


@pytest.mark.parametrize("crossover", [0.0, math.inf], ids=["newest first", "all matches first"])
def test_either_way_to_the_matches_on_postgresql_gives_the_newest(
    shuffled_on_postgresql: Shuffled, crossover: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's search picks its way to the matches by their number (pg_search.py): each
    way, forced, gives the same answer."""
    archive, texts = shuffled_on_postgresql
    monkeypatch.setattr(pg_search, "_CROSSOVER", crossover)
    for query in QUERIES:
        for limit in (1, 7, 50, 2000):
            assert _ids(archive, query, limit) == _expected(texts, query, limit), (query, limit)


def _ids(archive: Archive, query: str, limit: int) -> list[str]:
    return [item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=limit))]


def _expected(texts: dict[str, tuple[str, datetime]], query: str, limit: int) -> list[str]:
    words = [word for word in query.replace('"', "").split() if word not in ("AND", "OR")]

    def holds(text: str) -> bool:
        present = [word in text.split() or word in text for word in words]
        return any(present) if " OR " in query else all(present)

    matching = [(published, key) for key, (text, published) in texts.items() if holds(text)]
    return [key for _, key in sorted(matching, reverse=True)[:limit]]


def test_filters_apply_while_reading_in_storing_order(
    shuffled: Shuffled,
) -> None:
    archive, texts = shuffled
    since = NOW + timedelta(minutes=1200)
    found = archive.search(parse_query("budget"), SearchFilters(limit=30, since=since))
    expected = sorted(
        (
            (published, key)
            for key, (text, published) in texts.items()
            if "budget" in text and published >= since
        ),
        reverse=True,
    )[:30]
    assert [item.article.id for item in found] == [key for _, key in expected]


def test_which_queries_the_index_answers_exactly() -> None:
    assert index_exact(parse_query("budget OR (radar AND sonar*)"))
    assert index_exact(parse_query("台灣之盾"))  # four index tokens: a phrase
    assert index_exact(parse_query('"air defence"'))
    assert index_exact(parse_query("किताब"))  # combining vowel signs: the index keeps the word whole
    assert index_exact(parse_query("budget -radar")) is False
    assert index_exact(parse_query("title:budget")) is False
    assert index_exact(parse_query("budget NEAR/3 radar")) is False
    # On SQLite the index leaves out what an AND's NOT refuses, when it finds it exactly.
    for exact in ("budget -radar", "NOT radar", "NOT radar AND NOT sonar*", "budget -(radar OR 台灣)"):
        assert index_exact(parse_query(exact), refusals=True), exact
    for verified in (
        "title:(budget -radar)",
        "budget -title:radar",
        "NOT budget OR radar",
        "budget -lang:en",
    ):
        assert not index_exact(parse_query(verified), refusals=True), verified


def test_a_prefix_inside_a_word_longer_than_the_index_keeps_is_found(archive: Archive) -> None:
    """Found by a review: PostgreSQL's index keeps no word over 2,047 bytes, and said the article
    had no gaps: `b*` missed a word of 40,000 b's that SQLite and the matcher found."""
    archive.store_new([make_article("long", text="a" * 1500 + " " + "b" * 40_000 + " lonely", hits=())], [])
    for query in ("b*", "bb*", "lonely b*", "b* -zork", "NOT b*"):
        found = [item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=10))]
        assert found == ([] if query.startswith("NOT") else ["long"]), query


def test_a_word_longer_than_the_index_keeps_is_verified_beside_others(archive: Archive) -> None:
    """A word past 2,047 bytes is no lexeme of PostgreSQL's index: an AND asked the index for
    its other words and took their articles unverified (700 Thai letters are 2,100 bytes)."""
    long_word = "ก" * 700
    archive.store_new(
        [
            make_article("without", text="budget talks", hits=()),
            make_article("with", text=f"budget {long_word} talks", hits=()),
        ],
        [],
    )
    assert _found(archive, f"budget {long_word}") == ["with"]
    assert _found(archive, f"budget -{long_word}") == ["without"]
    assert _found(archive, f"NOT {long_word}") == ["without"]


def test_a_not_over_long_articles_verifies_none_of_them(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: `dome -zzzq` and `NOT zzzq` tokenized each candidate's whole text to
    verify the word's absence (2-9 s over 150 articles of 200,000 characters; a crowd of them
    held the server). The index leaves out what an exact NOT refuses; nothing is verified. On
    PostgreSQL such an article's index misses positions (past the 16,383rd word) but holds
    every word, so a query without a phrase is still the index's alone."""
    long_text = "dome kalo " * 20_000
    archive.store_new(
        [
            make_article("plain", title="A report", text=long_text, hits=()),
            make_article("refused", title="A report", text=long_text + " zzzq", hits=()),
            make_article("titled", title="Dome news", text="zzzq in the text only", hits=()),
            make_article("short", title="Air defence", text="dome kalo", hits=()),
        ],
        [],
    )
    for module in ("sql", "search_sql", "pg_search"):
        monkeypatch.setattr(f"monitor.archive.{module}.verifies", _never_verified)
    assert _found(archive, "dome -zzzq") == ["plain", "short"]
    assert _found(archive, "NOT zzzq") == ["plain", "short"]
    assert _found(archive, "NOT zzzq AND NOT kalo") == []
    # A phrase the long articles' kept positions show (a review: 3.4 s on PostgreSQL, verified).
    assert _found(archive, 'NOT "dome kalo" AND NOT zzzq') == []
    assert _found(archive, 'dome -"kalo dome"') == ["short", "titled"]
    monkeypatch.undo()  # a NOT under title: is the matcher's: the text's zzzq does not count
    assert _found(archive, "title:(dome -zzzq)") == ["titled"]


def test_a_phrase_in_an_article_missing_positions_is_verified(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an article past the 16,383rd word has words without their positions: a
    phrase there, asked or refused, is the matcher's to decide; in a shorter one, the index's."""
    long_text = "dome kalo " * 20_000
    archive.store_new(
        [
            make_article("long", title="A report", text=long_text + "missile test", hits=()),
            make_article("apart", title="A report", text=long_text + "missile then test", hits=()),
            make_article("short", title="Air defence", text="a missile test", hits=()),
            make_article("other", title="Air defence", text="dome alone", hits=()),
        ],
        [],
    )
    verified: list[str] = []
    real = search_sql.verifies

    def counted(query: Evaluator, row: ArticleRow) -> bool:
        verified.append(row[1])  # the id
        return real(query, row)

    for module in ("sql", "search_sql", "pg_search"):
        monkeypatch.setattr(f"monitor.archive.{module}.verifies", counted)
    assert _found(archive, '"missile test"') == ["long", "short"]
    assert _found(archive, 'dome -"missile test"') == ["apart", "other"]
    assert _found(archive, 'NOT "missile test"') == ["apart", "other"]
    assert _found(archive, "dome -test") == ["other"]
    postgres = isinstance(archive, PostgresArchive)
    assert sorted(set(verified)) == (["apart", "long"] if postgres else [])


def _found(archive: Archive, query: str) -> list[str]:
    return sorted(item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=50)))


def _never_verified(*_: object) -> bool:
    raise AssertionError("a candidate was verified")


def _store_dated_ahead_then_in_order(archive: Archive) -> None:
    """One article dated a week ahead stored first, then 700 in publication order: reading
    the index from the newest stored, the dated-ahead one comes last of all."""
    ahead = make_article("ahead", text="radar coast.", published=NOW + timedelta(days=7), hits=())
    archive.store_new([ahead], [])
    for start in range(0, 700, 100):
        batch = [
            make_article(f"n{n:04d}", text="radar coast.", published=NOW + timedelta(minutes=n), hits=())
            for n in range(start, start + 100)
        ]
        archive.store_new(batch, [])


def test_an_article_stored_long_before_yet_published_after_is_found(archive: Archive) -> None:
    _store_dated_ahead_then_in_order(archive)
    found = archive.search(parse_query("radar"), SearchFilters(limit=3))
    assert [item.article.id for item in found] == ["ahead", "n0699", "n0698"]
    archive.purge(NOW + timedelta(days=400), timedelta(days=1), None)  # marks pruned with them
    assert archive.search(parse_query("radar"), SearchFilters(limit=3)) == []


def test_publication_marks_made_by_the_upgrade_bound_as_the_stored_ones_do(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    archive = SqlArchive(f"sqlite:///{path}")
    _store_dated_ahead_then_in_order(archive)
    archive.close()
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT block, latest FROM publication_marks ORDER BY block").fetchall()
        connection.execute("DROP TABLE publication_marks")
        connection.execute("ALTER TABLE articles DROP COLUMN shared")
        connection.execute("DROP INDEX articles_source_content")
        connection.execute("ALTER TABLE sources DROP COLUMN boilerplate")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_by")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 7)
    upgraded = SqlArchive(f"sqlite:///{path}")
    found = upgraded.search(parse_query("radar"), SearchFilters(limit=3))
    assert [item.article.id for item in found] == ["ahead", "n0699", "n0698"]
    with sqlite3.connect(path) as connection:
        marks = connection.execute("SELECT block, latest FROM publication_marks ORDER BY block").fetchall()
        assert marks == stored
    assert len(stored) == 44 and len({latest for _, latest in stored}) == 1  # 701 seqs; the week ahead


def test_a_rules_arrivals_come_in_the_order_it_matched_them_whatever_their_dates(archive: Archive) -> None:
    """Found by a review: a rule's feed took its 100 newest matches by publication, so a match
    dated earlier than those (old news translated today, a source's clock behind another's
    running ahead) never reached a subscriber. 1,100 hits: more than one chunk of reading."""
    hit = Hit("Drone", "drone", "text", 0, 5, "drone seen")
    ahead = [
        make_article(f"ahead{n:03d}", text="drone seen", published=NOW + timedelta(hours=8), hits=(hit,) * 3)
        for n in range(300)
    ]  # three hits each: three terms or fields
    archive.store_new(ahead[:150], [])
    other = make_article("other", text="budget", hits=(Hit("Budget", "budget", "text", 0, 6, "budget"),))
    archive.store_new([other], [])
    archive.store_new(ahead[150:], [])
    late = make_article("late", text="drone seen", published=NOW - timedelta(days=3), hits=(hit,))
    archive.store_new([late], [])
    arrivals = [item.article.id for item in archive.rule_arrivals("Drone", 200)]
    assert arrivals[0] == "late" and len(arrivals) == len(set(arrivals)) == 200
    assert arrivals[1:] == [f"ahead{n:03d}" for n in range(299, 100, -1)]
    assert [item.article.id for item in archive.rule_arrivals("Budget", 200)] == ["other"]
    assert archive.rule_arrivals("Nothing", 10) == []
    [first] = archive.rule_arrivals("Drone", 1)
    assert first.article.hits and first.article.hits[0].rule == "Drone"  # read as search reads them


def test_a_rule_renamed_in_case_only_keeps_its_matches(archive: Archive) -> None:
    """Found by a review: `Dome Rule` renamed `DOME rule` (one name, the config says) had an
    empty feed, no counts and no matches under its rule filter: the hits kept the old spelling."""
    hit = Hit("Dome Rule", "dome", "text", 0, 4, "dome seen")
    other = Hit("Straße", "strasse", "text", 0, 7, "strasse")
    archive.store_new([make_article("a", hits=(hit,)), make_article("b", hits=(other,))], [])
    assert archive.respell_rules(["DOME rule", "STRASSE", "Unrelated"]) == {
        "Dome Rule": "DOME rule",
        "Straße": "STRASSE",
    }
    assert [item.article.id for item in archive.rule_arrivals("DOME rule", 10)] == ["a"]
    assert archive.respell_rules(["DOME rule", "STRASSE"]) == {}  # once


def test_a_rules_hits_under_another_spelling_of_its_name_are_its_own(archive: Archive) -> None:
    """Found by a review: a `monitor serve` whose config spelled a rule otherwise than its hits
    (started before the daemon that respells them, or running on after it) showed the rule
    empty: its feed, its filter, its counts and its chart. Two daemons on two configs store
    hits under both spellings; an article hit under both counts once."""
    spellings = ["Dome Rule", "DOME RULE", "Dome Rule"]
    stored = [
        make_article(f"a{n}", text="dome seen", hits=(Hit(name, "dome", "text", 0, 4, "dome seen"),))
        for n, name in enumerate(spellings)
    ]
    both = tuple(Hit(name, "dome", "text", 0, 4, "dome seen") for name in ("Dome Rule", "DOME RULE"))
    stored.append(make_article("both", text="dome seen", hits=both))
    for article in stored:
        archive.store_new([article], [])
    archive.store_new(
        [make_article("other", text="budget", hits=(Hit("Budget", "budget", "text", 0, 6, "b"),))], []
    )
    newest_first = ["both", "a2", "a1", "a0"]
    assert [item.article.id for item in archive.rule_arrivals("dome rule", 10)] == newest_first
    found = archive.search(None, SearchFilters(rules=("Dome rule",), limit=10))
    assert sorted(item.article.id for item in found) == sorted(newest_first)
    since = [NOW - timedelta(days=1)]
    assert archive.stats.rule_matches(["dome rule", "Budget"], since, NOW) == {
        "dome rule": [4],
        "Budget": [1],
    }
    [mention] = archive.stats.mentions(["DOME rule"], NOW - timedelta(days=1), NOW + timedelta(hours=1), None)
    assert (mention.rule, mention.count) == ("DOME rule", 4)


def test_the_hits_spellings_are_read_again_once_a_minute(archive: Archive) -> None:
    now = [100.0]
    assert isinstance(archive, SqlArchive | PostgresArchive)
    spellings = RuleSpellings(archive.db, clock=lambda: now[0])
    archive.store_new([make_article("a", hits=(Hit("Dome Rule", "dome", "text", 0, 4, "dome"),))], [])
    assert spellings.standing_for(["DOME rule"]) == {"DOME rule": "DOME rule", "Dome Rule": "DOME rule"}
    archive.store_new([make_article("b", hits=(Hit("dome RULE", "dome", "text", 0, 4, "dome"),))], [])
    now[0] += SPELLINGS_KEPT - 1
    assert "dome RULE" not in spellings.standing_for(["DOME rule"])
    now[0] += 1
    assert spellings.standing_for(["DOME rule"])["dome RULE"] == "DOME rule"


def test_the_latest_matches_of_any_rule_come_as_they_were_matched(archive: Archive) -> None:
    drone = Hit("Drone", "drone", "text", 0, 5, "drone seen")
    budget = Hit("Budget", "budget", "text", 0, 6, "budget")
    archive.store_new([make_article("d1", hits=(drone,)), make_article("none", hits=())], [])
    archive.store_new([make_article("b1", published=NOW - timedelta(days=9), hits=(budget, drone))], [])
    assert [item.article.id for item in archive.rule_arrivals(None, 10)] == ["b1", "d1"]
    assert [item.article.id for item in archive.rule_arrivals(None, 1)] == ["b1"]
