"""The Archive port's contract for articles, sources and alerts, on every backend (the outbox's
own is in test_outbox_contract.py, the sources' claims in test_sources_contract.py)."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from datetime import timedelta

from monitor.archive import Archive, FetchOutcome, KnownEntries, OutboxRow, SearchFilters
from monitor.models import Article, PollResult, PollStatus
from monitor.near_duplicates import fingerprint
from monitor.rules import parse_query
from tests.archive.conftest import ArchiveOpener
from tests.archive.helpers import NOW, make_article


def outbox(key: str) -> OutboxRow:
    return OutboxRow("desk", "webhook:x", key, key, ("Iron Dome",))


def test_store_is_idempotent_and_writes_alerts_with_articles(archive: Archive) -> None:
    article = make_article("a1")
    assert len(archive.store_new([article], [outbox("a1")])) == 1
    assert len(archive.store_new([article], [outbox("a1")])) == 0
    assert archive.known_entries("Harbor Daily", ["a1", "zz"], ["a1", "zz"]) == KnownEntries(
        {"a1": ""}, {"a1"}
    )
    assert archive.known_entries("Elsewhere", [], ["a1"]) == KnownEntries({}, set())
    assert len(archive.outbox.claim_alerts(NOW, NOW, 10, ["desk"])) == 1
    found = archive.article("a1")
    assert found is not None and found.article == article


def test_articles_are_read_in_one_batch_as_each_alone(archive: Archive) -> None:
    first = make_article("a1")
    copy = make_article("a2", url="https://other.test/a2", source="Coast Wire", story="a1")
    plain = make_article("a3", title="Budget talks", text="Budget talks went on.", hits=())
    archive.store_new([first, copy, plain], [])
    found = archive.articles(["a3", "a1", "zz", "a2", "a1"])
    assert set(found) == {"a1", "a2", "a3"}
    for key, item in found.items():
        assert item == archive.article(key)
    assert found["a1"].also_reported_by == (("Coast Wire", "https://other.test/a2"),)
    assert archive.articles([]) == {}


def test_alert_row_not_written_without_its_article(archive: Archive) -> None:
    archive.store_new([], [outbox("ghost")])
    assert archive.outbox.claim_alerts(NOW, NOW, 10, ["desk"]) == []


def test_alert_states(archive: Archive) -> None:
    archive.store_new([make_article("a1")], [outbox("a1")])
    archive.outbox.mark_alerts_failed({outbox("a1").id: NOW + timedelta(minutes=1)}, "HTTP 503", NOW)
    assert archive.outbox.claim_alerts(NOW, NOW, 10, ["desk"]) == []
    [row] = archive.outbox.claim_alerts(NOW + timedelta(minutes=2), NOW + timedelta(minutes=3), 10, ["desk"])
    assert (row.state.value, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    archive.outbox.mark_alerts_sent([outbox("a1").id], NOW + timedelta(minutes=2))
    [row] = archive.outbox.alerts(10)
    assert (row.state.value, row.attempts, row.last_error) == ("sent", 2, None)


def test_source_schedule_state(archive: Archive) -> None:
    archive.sync_sources([("One", "https://x.test/feed")], NOW)
    archive.sync_sources([("Removed", "https://x.test/old")], NOW)
    lease = NOW + timedelta(minutes=10)
    assert archive.claim_due_sources(NOW, lease, 10, ["One", "Two"]) == ["One"]
    assert archive.claim_due_sources(NOW, lease, 10, ["One", "Two"]) == []
    assert archive.release_claims(NOW) == 1  # a daemon died mid-poll: due again at once
    assert archive.claim_due_sources(NOW, lease, 10, ["One", "Two"]) == ["One"]
    archive.record_fetch(
        "One", FetchOutcome(NOW, NOW + timedelta(minutes=5), PollStatus(PollResult.ERROR), error="boom")
    )
    archive.record_fetch(
        "One", FetchOutcome(NOW, NOW + timedelta(minutes=9), PollStatus(PollResult.ERROR), error="boom2")
    )
    state = archive.source_states_of(["One"]).get("One")
    assert state is not None
    assert (state.consecutive_errors, state.last_error, state.failing_since) == (2, "boom2", NOW)
    archive.record_fetch(
        "One", FetchOutcome(NOW, NOW + timedelta(minutes=5), PollStatus(PollResult.OK, "200"), etag='"e"')
    )
    state = archive.source_states_of(["One"]).get("One")
    assert state is not None
    assert (state.consecutive_errors, state.last_error, state.etag) == (0, None, '"e"')


def test_search_verifies_index_candidates(archive: Archive) -> None:
    archive.store_new(
        [
            make_article("a1", text="The Iron Dome was shown."),
            make_article("a2", title="Dome and iron", text="Iron ore near a dome.", hits=()),
            make_article("a3", title="台灣", text="鐵穹系統", language="zh-Hant", hits=()),
        ],
        [],
    )

    def ids(query: str, **filters: object) -> list[str]:
        found = archive.search(parse_query(query), SearchFilters(**filters))  # type: ignore[arg-type]
        return [item.article.id for item in found]

    assert ids('"iron dome"') == ["a1"]
    assert sorted(ids("iron dome")) == ["a1", "a2"]
    assert ids("铁穹") == ["a3"]
    assert ids("NOT iron") == ["a3"]
    assert ids("iron", matched=True) == ["a1"]
    assert ids("NOT zzz", language="zh") == ["a3"]
    assert ids("iron", rules=("Iron Dome",)) == ["a1"]
    assert ids("iron", since=NOW + timedelta(days=1)) == []


def test_search_filters_narrow_by_date_source_language_and_rule(archive: Archive) -> None:
    later = NOW + timedelta(hours=3, microseconds=250)
    archive.store_new(
        [
            make_article("early", source="Harbor Daily", language="en-GB"),
            make_article("late", source="Tide Wire", language="en", published=later, hits=()),
            make_article("odd", source="Tide Wire", language="enx", published=later),
        ],
        [],
    )

    def ids(**filters: object) -> list[str]:
        found = archive.search(parse_query("iron"), SearchFilters(**filters))  # type: ignore[arg-type]
        return [item.article.id for item in found]

    assert ids(since=later) == ["odd", "late"]
    assert ids(until=later - timedelta(microseconds=1)) == ["early"]
    assert ids(since=NOW, until=NOW) == ["early"]
    assert ids(sources=("Tide Wire",)) == ["odd", "late"]
    assert ids(language="EN") == ["early", "late"] or ids(language="EN") == ["late", "early"]
    assert ids(language="en_") == []  # a LIKE wildcard is a plain character here
    assert ids(rules=("Iron Dome",), sources=("Tide Wire",)) == ["odd"]
    assert ids(limit=0) == []
    newest = archive.search(parse_query("NOT zzz"), SearchFilters(limit=1))  # stops mid-stream
    assert [item.article.id for item in newest] == ["odd"] and newest[0].article.hits


def test_search_returns_articles_as_stored_with_hits_and_copies(archive: Archive) -> None:
    fingerprint = tuple(range(1, 65))
    original = make_article("a1", teaser="Teaser", fingerprint=fingerprint, content_hash="h1")
    copy = make_article("a2", url="https://wire.test/a2", source="Tide Wire", fingerprint=fingerprint)
    archive.store_new([original], [])
    archive.store_new([copy], [])
    found = archive.search(parse_query("iron"), SearchFilters())
    by_id = {item.article.id: item for item in found}
    assert by_id["a1"].article == original
    assert by_id["a1"].article.published.utcoffset() == timedelta(0)
    assert by_id["a2"].article.story == "a1"  # a near-duplicate joins the story
    assert by_id["a1"].also_reported_by == (("Tide Wire", "https://wire.test/a2"),)
    shown = archive.article("a1")
    assert shown is not None and shown == by_id["a1"]


def test_purge_respects_retention(archive: Archive) -> None:
    old = NOW - timedelta(days=40)
    archive.store_new(
        [
            make_article("old-unmatched", fetched=old, hits=()),
            make_article("old-matched", fetched=old),
            make_article("new-unmatched", hits=()),
        ],
        [outbox("old-matched")],
    )
    assert archive.purge(NOW, timedelta(days=30), None) == 1
    assert set(
        archive.known_entries("Harbor Daily", ["old-unmatched", "old-matched", "new-unmatched"], []).hashes
    ) == {
        "old-matched",
        "new-unmatched",
    }
    assert archive.search(parse_query("iron"), SearchFilters()) != []
    assert archive.purge(NOW, timedelta(days=30), timedelta(days=30)) == 1
    assert archive.outbox.alerts(10) == []


def test_a_large_batch_is_stored_whole(archive: Archive) -> None:
    """Hits, index rows and alert rows go in one statement each, whatever their number."""
    count = 3000
    batch = [
        make_article(f"b{index}", text=f"Radar item {index} on the coast.", url=f"https://news.test/b{index}")
        for index in range(count)
    ]
    assert len(archive.store_new(batch, [outbox(f"b{index}") for index in range(count)])) == count
    assert len(archive.known_entries("Harbor Daily", [article.id for article in batch], []).hashes) == count
    found = archive.search(parse_query('"item 5"'), SearchFilters())
    assert [item.article.id for item in found] == ["b5"]
    assert found[0].article == batch[5]
    assert len(archive.outbox.alerts(count + 10)) == count


def test_a_claim_that_lapsed_and_was_taken_again_is_not_renewed(archive: Archive) -> None:
    archive.store_new([make_article("a1")], [outbox("a1")])
    first, second = NOW + timedelta(minutes=5), NOW + timedelta(minutes=11)
    [row] = archive.outbox.claim_alerts(NOW, first, 10, ["desk"])
    [again] = archive.outbox.claim_alerts(first, second, 10, ["desk"])  # the first lease lapsed meanwhile
    assert again.id == row.id
    assert archive.outbox.renew_alert_claims([row.id], first, NOW + timedelta(minutes=20)) == set()
    assert archive.outbox.renew_alert_claims([row.id], second, NOW + timedelta(minutes=20)) == {row.id}


def test_entries_are_known_by_their_text_within_their_source(archive: Archive) -> None:
    article = make_article("a1")
    archive.store_new([replace(article, content_hash="h1")], [])
    # With the publication time stored: a briefing's title and teaser on a new day is new.
    known = archive.known_entries("Harbor Daily", [], [], ["h1", "h2"]).contents
    assert known == {"h1": [(article.published, article.fetched, article.url)]}
    assert archive.known_entries("Elsewhere", [], [], ["h1"]).contents == {}


def test_articles_past_the_index_limits_are_found_as_the_matcher_finds_them(archive: Archive) -> None:
    """PostgreSQL's tsvector keeps 256 positions of a word, none past 16,383, and no word over
    2,047 bytes: a phrase deep in a long article, or a word that long, is still found."""
    deep = " ".join(["the budget"] * 9000) + " the iron dome"  # "the" 9,001 times, 18,003 words
    huge_word = "x" * 3000
    archive.store_new(
        [
            make_article("deep", title="Long", text=deep, hits=()),
            make_article("short", title="Short", text="Iron and dome, the budget.", hits=()),
            make_article("word", title="Word", text=f"{huge_word} radar", hits=()),
        ],
        [],
    )

    def ids(query: str) -> list[str]:
        return sorted(item.article.id for item in archive.search(parse_query(query), SearchFilters()))

    assert ids('"the iron dome"') == ["deep"]
    assert ids('"iron dome"') == ["deep"]
    assert ids('"budget the iron"') == ["deep"]
    assert ids('"the budget"') == ["deep", "short"]
    assert ids("iron") == ["deep", "short"]
    assert ids(huge_word) == ["word"]
    assert ids(f'"{huge_word} radar"') == ["word"]
    assert ids('"dome budget"') == []
    # FTS5 cuts a word at 32,768 bytes: 40,000 x's found an article of 200,000 (a review), which
    # the matcher, comparing whole words, does not match.
    archive.store_new([make_article("longer", title="Longer", text="x" * 200_000, hits=())], [])
    assert ids("x" * 40_000) == []
    assert ids("x" * 200_000) == ["longer"]


def test_an_article_too_large_for_one_index_entry_is_still_found(archive: Archive) -> None:
    """Past 1 MB of distinct words PostgreSQL's tsvector cannot hold them all: the words left out
    are still found (the matcher reads the article), and no other article is taken for it."""
    words = " ".join(f"w{index}x" for index in range(150_000))
    archive.store_new(
        [
            make_article("huge", title="Inventory", text=f"{words} closing remark", hits=()),
            make_article("small", title="Note", text="w149999x alone, closing", hits=()),
        ],
        [],
    )

    def ids(query: str) -> list[str]:
        return sorted(item.article.id for item in archive.search(parse_query(query), SearchFilters()))

    assert ids("w149999x") == ["huge", "small"]
    assert ids('"closing remark"') == ["huge"]
    assert ids("w3x AND w149998x") == ["huge"]
    assert ids("inventory OR note") == ["huge", "small"]


def test_copies_stored_at_the_same_moment_by_two_daemons_are_one_story_and_one_alert(
    open_archive: ArchiveOpener,
) -> None:
    """Two daemons (two archives on one database) each store a copy of the same story at once:
    one story, one alert row, as when they store one after the other."""
    daemons = [open_archive(), open_archive()]
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
    ]

    def copy(story: int, side: int) -> Article:
        rng = random.Random(story)
        text = "Iron Dome " + " ".join(f"{rng.choice(words)}{rng.randint(0, 99)}" for _ in range(60))
        key = f"s{story}-{side}"
        title = f"Iron Dome story {story}"
        return make_article(
            key, title=title, text=text, url=f"https://{side}.test/{key}", source=f"Outlet {side}",
            fingerprint=fingerprint(title, text),
        )  # fmt: skip

    for story in range(8):
        meeting = threading.Barrier(2)

        def store(side: int, story: int = story, meeting: threading.Barrier = meeting) -> None:
            article = copy(story, side)
            meeting.wait()
            alert = OutboxRow("desk", "webhook:x", article.story, article.id, ("R",))
            daemons[side].store_new([article], [alert])

        threads = [threading.Thread(target=store, args=(side,)) for side in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stored = [daemons[0].article(f"s{story}-{side}") for story in range(8) for side in (0, 1)]
    assert len({found.article.story for found in stored if found is not None}) == 8
    assert all(stored)
    assert len(daemons[0].outbox.alerts(100)) == 8
