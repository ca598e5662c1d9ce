"""Counts of the rules' matches (Archive.stats), on every backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from monitor.archive import Archive, FetchOutcome, Mentions
from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.mentions import mention_series
from monitor.models import Hit, PollResult, PollStatus
from monitor.queries import source_health
from tests.archive.helpers import NOW, make_article
from tests.configs import monitor_config

RULES = ["Iron Dome", "Laser"]


def _hit(rule: str, term: str = "Iron Dome") -> Hit:
    return Hit(rule, term, "text", 4, 13, "The Iron Dome was shown.")


def _store(archive: Archive) -> None:
    """Iron Dome: today twice (one article hit by two terms), yesterday once, ten days ago
    once; Laser: today, in Hebrew; an unmatched article today."""
    archive.store_new(
        [
            make_article("t1", hits=(_hit("Iron Dome"), _hit("Iron Dome", "Dome"))),
            make_article("t2", source="Coast Wire", hits=(_hit("Iron Dome"), _hit("Laser", "laser"))),
            make_article("y1", published=NOW - timedelta(days=1), language="he", hits=(_hit("Iron Dome"),)),
            make_article("old", published=NOW - timedelta(days=10), hits=(_hit("Iron Dome"),)),
            make_article("none", title="Budget", text="Budget talks.", hits=()),
        ],
        [],
    )


def test_each_rule_counts_its_articles_since_each_moment(archive: Archive) -> None:
    _store(archive)
    since = [NOW - timedelta(hours=1), NOW - timedelta(days=2), NOW - timedelta(days=30)]
    assert archive.stats.rule_matches(RULES, since, NOW) == {"Iron Dome": [2, 3, 4], "Laser": [1, 1, 1]}
    assert archive.stats.rule_matches(RULES, [NOW + timedelta(days=1)], NOW + timedelta(days=2)) == {}


def test_an_article_dated_ahead_is_no_recent_match_nor_activity(archive: Archive) -> None:
    """Found by a review: three matches dated 18-20 h ahead (a source's clock; up to a day is
    let in) counted in the last 24 hours, 5 where the mentions said 2."""
    _store(archive)
    ahead = make_article("ahead", published=NOW + timedelta(hours=18), hits=(_hit("Laser", "laser"),))
    archive.store_new([ahead], [])
    assert archive.stats.rule_matches(RULES, [NOW - timedelta(days=1)], NOW) == {
        "Iron Dome": [3],
        "Laser": [1],
    }
    assert archive.stats.source_activity(NOW - timedelta(days=2), NOW, NAMES)["Harbor Daily"][1] == 3
    later = NOW + timedelta(days=1)  # once its time has come, it counts
    assert archive.stats.rule_matches(RULES, [later - timedelta(days=1)], later)["Laser"] == [2]


def test_mentions_per_day_by_rule_and_by_source(archive: Archive) -> None:
    _store(archive)
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    week = (NOW - timedelta(days=7), NOW + timedelta(hours=1))
    assert archive.stats.mentions(["Iron Dome", "Laser"], *week, None) == [
        Mentions(yesterday, "Iron Dome", None, 1),
        Mentions(today, "Iron Dome", None, 2),
        Mentions(today, "Laser", None, 1),
    ]
    assert archive.stats.mentions(["Iron Dome"], *week, "source") == [
        Mentions(yesterday, "Iron Dome", "Harbor Daily", 1),
        Mentions(today, "Iron Dome", "Coast Wire", 1),
        Mentions(today, "Iron Dome", "Harbor Daily", 1),
    ]
    by_language = archive.stats.mentions(["Iron Dome"], *week, "language")
    assert [(mention.key, mention.count) for mention in by_language] == [("he", 1), ("en", 2)]
    assert (
        archive.stats.mentions(["Iron Dome"], NOW + timedelta(hours=1), NOW + timedelta(days=1), None) == []
    )
    assert archive.stats.mentions(["Unknown"], *week, None) == []
    assert isinstance(by_language[0].day, date)


NAMES = ["Harbor Daily", "Coast Wire", "Never Polled"]


def test_each_sources_newest_article_and_recent_count(archive: Archive) -> None:
    _store(archive)
    activity = archive.stats.source_activity(NOW - timedelta(days=2), NOW, NAMES)
    # t1, y1 and the unmatched one; not the one published ten days ago
    assert activity == {"Harbor Daily": (NOW, 3), "Coast Wire": (NOW, 1)}
    later = make_article(
        "late", published=NOW - timedelta(days=30), fetched=NOW + timedelta(hours=3), hits=()
    )
    archive.store_new([later], [])
    assert archive.stats.source_activity(NOW - timedelta(days=2), NOW, NAMES)["Harbor Daily"] == (
        NOW + timedelta(hours=3),
        3,
    )


def test_more_sources_than_a_statement_binds(archive: Archive) -> None:
    """PostgreSQL binds at most 65,535 values a statement; a desk may configure that many."""
    _store(archive)
    names = [f"Source {n}" for n in range(70_000)] + NAMES
    assert archive.stats.source_activity(NOW - timedelta(days=2), NOW, names) == {
        "Harbor Daily": (NOW, 3),
        "Coast Wire": (NOW, 1),
    }


def _plans(archive: SqlArchive, work: Callable[[], object]) -> list[str]:
    """SQLite's plan steps for each statement `work` ran."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(archive.db.engine, "before_cursor_execute", record)
    work()
    event.remove(archive.db.engine, "before_cursor_execute", record)
    plans = []
    with archive.db.engine.connect() as connection:
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                explained = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans += [str(row[-1]) for row in explained]
    return plans


def _walks(plans: list[str]) -> list[str]:
    """Steps reading a whole table or a whole index of rows (not an index-only count)."""
    return [step for step in plans if re.match(r"SCAN (articles|hits)\b", step) and "COVERING" not in step]


def test_recent_counts_read_only_the_recent_articles(tmp_path: Path) -> None:
    # SQLite, left to itself, walked all of `hits` or `articles` in its GROUP BY index's order
    # (seconds at a million articles): with fewer recent articles than hits, every table must
    # be reached through an index search from the recent ones.
    archive = SqlArchive(f"sqlite:///{tmp_path / 'plans.db'}")
    _store(archive)  # 5 articles of the last week, 6 hits
    since = [NOW - timedelta(days=1), NOW - timedelta(days=7)]
    plans = _plans(archive, lambda: archive.stats.rule_matches(RULES, since, NOW))
    plans += _plans(archive, lambda: archive.stats.source_activity(NOW - timedelta(days=2), NOW, NAMES))
    assert any("articles_published" in step for step in plans), plans
    assert not _walks(plans), plans
    # Many recent articles and few hits (a mature archive keeping 30 days of unmatched ones):
    # counted from the hits, not from every recent article.
    archive.store_new(
        [make_article(f"u{n}", title=f"Unmatched {n}", text="Nothing.", hits=()) for n in range(20)], []
    )
    plans = _plans(archive, lambda: archive.stats.rule_matches(RULES, since, NOW))
    assert not any("recent" in step for step in plans), plans
    assert archive.stats.rule_matches(RULES, since, NOW) == {"Iron Dome": [3, 3], "Laser": [1, 1]}
    archive.close()


def test_the_failing_sources_among_the_named(archive: Archive) -> None:
    """For /metrics: the configured sources whose last poll failed (a source no longer
    configured, failing when it was removed, is not counted)."""
    archive.sync_sources([(name, f"https://{n}.example/feed.xml") for n, name in enumerate("ABCD")], NOW)
    failed = PollStatus(PollResult.ERROR, "HTTP 500")
    archive.record_fetches(
        [
            ("A", FetchOutcome(NOW, NOW + timedelta(hours=1), failed, error="HTTP 500")),
            ("B", FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK))),
            ("D", FetchOutcome(NOW, NOW + timedelta(hours=1), failed, error="HTTP 500")),
        ]
    )
    names = [f"Source {n}" for n in range(12_000)] + ["A", "B", "C"]  # D: removed from the config
    assert archive.stats.failing_sources(names) == 1
    assert archive.stats.failing_sources([]) == 0


def test_a_source_renamed_in_case_keeps_its_health_and_activity(archive: Archive, tmp_path: Path) -> None:
    """Found by a review: a source renamed `Harbor Daily` to `HARBOR daily` (one name) showed no
    articles a day and no newest article, and `new: not polled yet`, though its articles and
    its state were there under the old spelling."""
    archive.sync_sources([("Harbor Daily", "https://harbor.example/feed.xml")], NOW)
    archive.record_fetches(
        [("Harbor Daily", FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK)))]
    )
    _store(archive)  # four articles of Harbor Daily's in the last week
    renamed = [{"name": "HARBOR daily", "url": "https://harbor.example/feed.xml"}]
    settings = load_settings(monitor_config(tmp_path, sources=renamed))
    for started in (False, True):  # a daemon (or backfill) on the new spelling makes its state, unpolled
        if started:
            archive.sync_sources([("HARBOR daily", "https://harbor.example/feed.xml")], NOW)
        [health] = source_health(archive, settings, activity=True, now=NOW)
        assert (
            health["name"] == "HARBOR daily" and health["status"] == "ok" and health["last_fetch"] is not None
        )
        assert health["articles_per_day"] == round(3 / 7, 1) and health["last_new_article"] is not None


def test_rules_renamed_are_counted_without_a_case_over_every_hit(tmp_path: Path) -> None:
    """Found by a review: grouping by a CASE of every renamed spelling cost 10x (2 s for 2,000
    rules over 100,000 hits). A name stored under one spelling is counted under it, then named
    as asked; only a name stored under several is grouped by a CASE, of its own spellings."""
    archive = SqlArchive(f"sqlite:///{tmp_path / 'renamed.db'}")
    _store(archive)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(archive.db.engine, "before_cursor_execute", record)
    since = [NOW - timedelta(days=30)]
    assert archive.stats.rule_matches(["IRON dome", "laser"], since, NOW) == {"IRON dome": [4], "laser": [1]}
    assert all("CASE HITS.RULE" not in statement.upper() for statement in statements), statements
    archive.store_new([make_article("again", hits=(_hit("iron DOME"),))], [])
    statements.clear()
    assert archive.stats.rule_matches(["IRON dome"], since, NOW) == {"IRON dome": [5]}
    [counting] = [statement for statement in statements if "CASE HITS.RULE" in statement.upper()]
    assert counting.upper().split("GROUP BY")[1].count(" WHEN ") == 2  # its two spellings alone
    event.remove(archive.db.engine, "before_cursor_execute", record)
    archive.close()


def test_a_source_renamed_in_case_is_one_line_of_mentions(archive: Archive, tmp_path: Path) -> None:
    """Found by a review: by=source drew a source renamed `Harbor Daily` to `HARBOR daily` as two
    lines, its older articles on a line of a name the config no longer has."""
    _store(archive)
    archive.store_new([make_article("later", source="HARBOR daily", hits=(_hit("Iron Dome"),))], [])
    sources = [
        {"name": "HARBOR daily", "url": "https://harbor.example/"},
        {"name": "Coast Wire", "url": "https://coast.example/"},
    ]
    settings = load_settings(monitor_config(tmp_path, sources=sources))
    until = NOW.date().isoformat()
    series = mention_series(archive, settings, ["Iron Dome"], "day", "2026-01-01", until, "source")["series"]
    totals = {line["source"]: sum(point["count"] for point in line["points"]) for line in series}
    assert totals == {"Coast Wire": 1, "HARBOR daily": 3}


def test_a_spelling_stored_since_the_names_were_read_is_counted_at_once(archive: Archive) -> None:
    """Found by a review: hits stored under the config's own spelling after the names were read
    (a daemon on it, beside one on the old spelling) made a second line the first overwrote, or
    the mentions counted an article twice, for up to a minute."""
    archive.store_new([make_article(f"d{n}", hits=(_hit("Dome"),)) for n in range(3)], [])
    since = [NOW - timedelta(days=1)]
    assert archive.stats.rule_matches(["DOME"], since, NOW) == {"DOME": [3]}  # the names read now
    both = (_hit("DOME"), _hit("Dome"))
    archive.store_new([make_article("again", hits=(_hit("DOME"),)), make_article("both", hits=both)], [])
    assert archive.stats.rule_matches(["DOME"], since, NOW) == {"DOME": [5]}
    [mention] = archive.stats.mentions(["DOME"], NOW - timedelta(days=1), NOW + timedelta(hours=1), None)
    assert (mention.rule, mention.count) == ("DOME", 5)


def test_a_renamed_sources_spellings_are_one_line_where_the_reading_stops(archive: Archive) -> None:
    """Found by a review: the reading of mentions stopped past the lines an answer may have,
    counted before a renamed source's spellings were made one line: a complete answer lost
    counts. They are counted as one line from the start."""
    sources = ["src0", "SRC0", "src1", "SRC1"]
    archive.store_new(
        [make_article(f"s{n}", source=name, hits=(_hit("R"),)) for n, name in enumerate(sources)], []
    )
    found = archive.stats.mentions(["R"], NOW - timedelta(days=1), NOW + timedelta(hours=1), "source", 2)
    assert sorted(mention.key or "" for mention in found) == sorted(sources)
