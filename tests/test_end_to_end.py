"""The product end to end through the CLI: feeds in, matches archived, alerted, searchable."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.output import render
from monitor.ingest.poll.articles import headline
from tests import fixtures
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site, WebhookReceiver


def test_once_ingests_matches_alerts_and_searches(
    cli: Cli, config: Path, site: Site, webhook: WebhookReceiver
) -> None:
    code, out, err = cli("-c", str(config), "once")
    assert code == 0, err
    assert out.startswith("once: 9 sources (6 ok, 3 failed)")

    deliveries = webhook.wait_for(6)
    titles = sorted(delivery.payload["article"]["title"] for delivery in deliveries)
    assert titles == sorted(
        [
            "Delegation studies Iron-Dome battery",
            "防衛相、イスラエルの防空網を視察",
            "Koizumi visit focuses on lasers",
            "國防部說明防空計畫",
            "安保3文書の改定へ議論",
            "Officials meet on air defence",
        ]
    )
    for delivery in deliveries:
        assert delivery.headers["Idempotency-Key"] == delivery.payload["alert_id"]
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.payload["alert"] == "desk"
        assert all(hit["snippet"] for hit in delivery.payload["article"]["hits"])

    jsonl = (config.parent / "data" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(jsonl) == 6

    # The teaser-only entry matched through its article page.
    teaser = next(d for d in deliveries if d.payload["article"]["source"] == "Teaser Times")
    assert teaser.payload["rules"] == ["Taiwan Shield"]
    assert "T-Dome" in teaser.payload["article"]["summary"]

    # Big5 text arrived intact, and Traditional matches Simplified.
    big5 = next(d for d in deliveries if d.payload["article"]["source"] == "Formosa Herald")
    assert sorted(big5.payload["rules"]) == ["Iron Dome", "Taiwan Shield"]

    # Tracking-parameter duplicates are one article.
    found = cli.json("-c", str(config), "search", "delegation", "--format", "json")
    assert [article["url"] for article in found] == [site.url("/news/1?id=7")]

    # A second pass over unchanged feeds sends nothing.
    code, out, _ = cli("-c", str(config), "once")
    assert code == 0
    assert "0 new articles" in out and "0 alerts sent" in out
    assert len(webhook.deliveries) == 6


def test_search_same_language_as_rules(cli: Cli, config: Path) -> None:
    cli("-c", str(config), "once")
    by_query = {
        '"iron dome"': {"Delegation studies Iron-Dome battery"},
        "铁穹 OR アイアンドーム": {"國防部說明防空計畫", "防衛相、イスラエルの防空網を視察"},
        "dome": {"Delegation studies Iron-Dome battery", "Officials meet on air defence"},
        "domestic": {"Domestic politics roundup", "Officials meet on air defence"},
        "台湾之盾": {"國防部說明防空計畫"},
        "title:koizumi": {"Koizumi visit focuses on lasers"},
        "lang:ja": {"防衛相、イスラエルの防空網を視察", "安保3文書の改定へ議論"},
    }
    for query, expected in by_query.items():
        found = cli.json("-c", str(config), "search", query, "--format", "json")
        assert {article["title"] for article in found} >= expected, query
        if query != "dome":
            assert {article["title"] for article in found} == expected, query


def test_search_filters_and_formats(cli: Cli, config: Path) -> None:
    cli("-c", str(config), "once")
    matched = cli.json("-c", str(config), "search", "NOT zzz", "--matched", "--format", "json")
    assert len(matched) == 6
    by_rule = cli.json("-c", str(config), "search", "NOT zzz", "--rule", "Iron Dome", "--format", "json")
    assert {a["source"] for a in by_rule} == {"Harbor Daily", "Kanto Wire", "Formosa Herald"}
    limited = cli.json("-c", str(config), "search", "NOT zzz", "--limit", "2", "--format", "json")
    assert len(limited) == 2
    code, out, err = cli("-c", str(config), "search", "NOT zzz", "--limit", "2", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 3  # the CSV whole; what was left out on stderr
    assert err == "monitor: the newest 2 shown; there are more (--limit N)\n"
    assert cli("-c", str(config), "search", "NOT zzz", "--limit", "200")[2] == ""  # all there is
    every = len(cli.json("-c", str(config), "search", "NOT zzz", "--limit", "200", "--format", "json"))
    assert cli("-c", str(config), "search", "NOT zzz", "--limit", str(every))[2] == ""  # exactly all
    code, out, _ = cli("-c", str(config), "search", "dome", "--format", "ndjson")
    assert code == 0 and all(json.loads(line)["id"] for line in out.splitlines())
    code, out, _ = cli("-c", str(config), "search", "zzzqqq", "--format", "ndjson")
    assert code == 0 and out == ""  # no record, no line (a blank line reads as a record)
    code, out, _ = cli("-c", str(config), "search", "dome", "--format", "csv")
    assert out.splitlines()[0] == "published,source,title,rules,url,language,summary,matched"
    code, out, _ = cli("-c", str(config), "search", "dome", "--source", "Harbor Daily")
    assert "Harbor Daily" in out and "Teaser Times" not in out
    # A blank query: the options alone choose, as on the API and the page.
    newest = cli.json("-c", str(config), "search", " ", "--source", "Harbor Daily", "--format", "json")
    assert newest and {a["source"] for a in newest} == {"Harbor Daily"}
    everything = cli.json("-c", str(config), "search", "", "--format", "json")
    assert len(everything) == len(cli.json("-c", str(config), "search", "NOT zzz", "--format", "json"))


def test_search_query_error_points_at_position(cli: Cli, config: Path) -> None:
    code, _, err = cli("-c", str(config), "search", '(iron AND "dome')
    assert code == 2
    assert "unclosed quote at position 11" in err
    assert err.rstrip().endswith("^")


def test_sources_show_health(cli: Cli, config: Path) -> None:
    cli("-c", str(config), "once")
    states = {s["name"]: s for s in cli.json("-c", str(config), "sources", "--format", "json")}
    assert states["Harbor Daily"]["status"] == "ok (200)"
    assert states["Harbor Daily"]["consecutive_errors"] == 0
    assert states["Failing Feed"]["status"].startswith("failing since")
    assert "HTTP 500" in states["Failing Feed"]["last_error"]
    assert "no complete answer within 2s" in states["Hung Feed"]["last_error"]
    assert "not a readable feed" in states["Broken Feed"]["last_error"]
    assert states["Failing Feed"]["next_due"] > states["Failing Feed"]["last_fetch"]


def test_alerts_history(cli: Cli, config: Path) -> None:
    cli("-c", str(config), "once")
    history = cli.json("-c", str(config), "alerts", "--format", "json")
    assert len(history) == 12  # six stories, two channels each
    assert {row["state"] for row in history} == {"sent"}
    assert {row["channel"].split(":")[0] for row in history} == {"webhook", "jsonl"}
    # The table too: two channels' alerts of one story differ by more than their ids.
    code, table, _ = cli("-c", str(config), "alerts")
    assert code == 0 and table.splitlines()[0].split()[:4] == ["ID", "CREATED", "ALERT", "CHANNEL"]
    assert sum("webhook:" in line for line in table.splitlines()) == 6


def test_entry_whose_link_changes_but_guid_stays_is_not_new(
    cli: Cli, config: Path, site: Site, webhook: WebhookReceiver
) -> None:
    cli("-c", str(config), "once", "--source", "Harbor Daily")
    sent = len(webhook.deliveries)
    moved = fixtures.english_feed(site.base).replace(b"/news/1?", b"/news/moved-1?")
    site.routes["/english.xml"] = Route(moved)
    code, out, _ = cli("-c", str(config), "once", "--source", "Harbor Daily")
    assert code == 0 and "0 new articles" in out
    assert len(webhook.deliveries) == sent


def test_once_with_an_unknown_source_is_a_usage_error(cli: Cli, config: Path) -> None:
    code, _, err = cli("-c", str(config), "once", "--source", "Nope")
    assert code == 2 and "no source named 'Nope'" in err


def test_alerts_retry_command(cli: Cli, config: Path, webhook: WebhookReceiver) -> None:
    webhook.status = 503
    cli("-c", str(config), "once")
    history = cli.json("-c", str(config), "alerts", "--format", "json")
    failing = [row for row in history if row["channel"].startswith("webhook")]
    assert failing and all(row["state"] == "pending" and row["attempts"] == 1 for row in failing)
    pending = cli.json("-c", str(config), "alerts", "--state", "pending", "--format", "json")
    assert pending == [row for row in history if row["state"] == "pending"] and pending
    code, _, err = cli("-c", str(config), "alerts", "--limit", "-3")
    assert code == 2 and "--limit -3: give 1 or more" in err
    code, out, _ = cli("-c", str(config), "alerts", "retry", failing[0]["id"])
    assert code == 0 and out.startswith("1 alert queued again")
    again = {row["id"]: row for row in cli.json("-c", str(config), "alerts", "--format", "json")}
    assert again[failing[0]["id"]]["attempts"] == 1  # still pending: its attempts are kept
    sent = next(row for row in history if row["state"] == "sent")
    code, out, _ = cli("-c", str(config), "alerts", "retry", sent["id"])
    assert code == 0 and "0 alerts queued again" in out
    assert "1 of the alerts given was sent already or held until its digest, throttle or quiet hours" in out
    code, _, err = cli("-c", str(config), "alerts", "retry")
    assert code == 2 and "--failed" in err


def test_csv_cells_that_a_spreadsheet_would_run_stay_text(cli: Cli, tmp_path: Path, site: Site) -> None:
    hostile = [
        {"title": '=HYPERLINK("http://evil.test","Iron Dome")', "link": site.url("/x/1"), "description": "x"},
        {"title": "+Iron Dome cmd|' /C calc'!A0", "link": site.url("/x/2"), "description": "x"},
        {"title": "-Iron Dome 2+3", "link": site.url("/x/3"), "description": "x"},
        {"title": "@SUM(1+1) Iron Dome", "link": site.url("/x/4"), "description": "x"},
        {"title": "Plain Iron Dome = safe", "link": site.url("/x/5"), "description": "x"},
    ]
    site.routes["/hostile.xml"] = Route(fixtures.rss(hostile))
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        sources=[{"name": "=Evil Source", "url": site.url("/hostile.xml"), "full_text": "never"}],
    )
    assert cli("-c", str(config), "once")[0] == 0
    code, out, _ = cli("-c", str(config), "search", '"iron dome"', "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5
    for row in rows:
        assert not row["title"].startswith(("=", "+", "-", "@")), row
        assert row["source"] == "'=Evil Source"
    assert {row["title"] for row in rows} >= {
        '\'=HYPERLINK("http://evil.test","Iron Dome")',
        "Plain Iron Dome = safe",
    }


def test_unknown_names_are_refused_with_the_known_ones_and_case_does_not_matter(
    cli: Cli, config: Path, site: Site
) -> None:
    cli("-c", str(config), "once", "--source", "harbor daily")  # the configured name, in any case
    for args, refused in [
        (["search", "dome", "--source", "Nope"], "no source named 'Nope' (known: "),
        (["search", "dome", "--rule", "Nope"], "no watch rule named 'Nope' (known: "),
        # A misspelt source in the query was a silent empty answer.
        (["search", "dome source:Harbr"], "source:Harbr: no source's name holds it (known: "),
        (["search", "dome -source:(harbor OR Nope)"], "source:Nope: no source's name holds it"),
        (["alerts", "retry", "deadbeef"], "no alert with the id 'deadbeef'"),
    ]:
        code, _, err = cli("-c", str(config), *args)
        assert code == 2 and refused in err, (args, err)
    assert "'Harbor Daily'" in cli("-c", str(config), "search", "x", "--source", "Nope")[2]
    found = cli.json("-c", str(config), "search", "Iron Dome", "--source", "HARBOR DAILY", "--format", "json")
    assert found and {item["source"] for item in found} == {"Harbor Daily"}
    by_field = cli.json("-c", str(config), "search", "Iron Dome source:harb*", "--format", "json")
    assert by_field == found


def test_tables_line_up_wide_characters_and_keep_everything_when_piped() -> None:
    long_url = "https://example.org/" + "x" * 200
    records = [{"title": "台灣之盾 drill", "url": long_url}, {"title": "T-Dome", "url": "u"}]
    lines = render(records, ("title", "url"), "table").splitlines()
    # "台灣之盾 drill" takes 14 cells (each Chinese character two): "T-Dome" is padded to 14 too.
    # The test's stdout is not a terminal: nothing is cut.
    assert lines[1:] == [f"台灣之盾 drill  {long_url}", "T-Dome" + " " * 8 + "  u"]


def test_tables_drop_the_controls_that_would_reverse_a_row() -> None:
    records = [{"title": "\u202eevil\u2067 כיפת ברזל\u2069", "source": "Harbor\u202b Daily"}]
    table = render(records, ("title", "source"), "table")
    assert table.splitlines()[1] == "evil כיפת ברזל  Harbor Daily"
    assert "\u202e" in render(records, ("title",), "json")  # the data itself stays as it is


def test_alerts_show_their_id_and_search_csv_why_each_article_matched(
    cli: Cli, config: Path, webhook: WebhookReceiver
) -> None:
    cli("-c", str(config), "once")
    code, out, _ = cli("-c", str(config), "alerts")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["ID", "CREATED"]
    [first_id] = {row["id"] for row in cli.json("-c", str(config), "alerts", "--format", "json")[:1]}
    assert out.splitlines()[1].startswith(first_id)
    code, out, _ = cli("-c", str(config), "search", "Iron Dome", "--format", "csv")
    header, *rows = out.splitlines()
    assert header == "published,source,title,rules,url,language,summary,matched" and rows
    assert "Iron Dome: " in out


def test_since_is_publication_and_fetched_since_is_arrival(cli: Cli, config: Path) -> None:
    cli("-c", str(config), "once")  # the fixtures' items were published in January
    by_publication = cli.json("-c", str(config), "search", "Iron Dome", "--since", "7d", "--format", "json")
    by_arrival = cli.json(
        "-c", str(config), "search", "Iron Dome", "--fetched-since", "7d", "--format", "json"
    )
    assert by_publication == [] and by_arrival
    assert {item["published_inferred"] for item in by_arrival} == {False}  # each gave its date


def test_an_undated_item_is_marked_as_dated_by_its_fetch(cli: Cli, tmp_path: Path, site: Site) -> None:
    found = _the_one_item_stored(cli, tmp_path, site, date="")
    assert found["published_inferred"] is True and found["published"] == found["fetched"]


def test_an_item_dated_ahead_of_its_fetch_is_dated_by_the_fetch(cli: Cli, tmp_path: Path, site: Site) -> None:
    """An item dated two hours ahead (a local time without its zone read as UTC, or a source's
    clock) headed every newest-first list, the feeds' and the first page's, for two hours."""
    found = _the_one_item_stored(
        cli, tmp_path, site, date=format_datetime(datetime.now(UTC) + timedelta(hours=2))
    )
    assert found["published"] == found["fetched"] and found["published_inferred"] is True


def test_an_item_dated_ahead_whose_link_changes_is_stored_once(cli: Cli, tmp_path: Path, site: Site) -> None:
    """Stored dated by its fetch, it no longer had the date its entry gave: the same entry at a
    new link (a feed rotating links, as some do on every fetch) was stored again (a review)."""
    ahead = format_datetime(datetime.now(UTC) + timedelta(hours=3))
    found = _the_one_item_stored(cli, tmp_path, site, date=ahead)
    item = {"title": "Iron Dome drill", "link": site.url("/b/1"), "description": "A drill.", "date": ahead}
    site.routes["/one.xml"] = Route(fixtures.rss([{**item, "guid": "b-1"}]))
    code, out, err = cli("-c", str(tmp_path / "monitor.yaml"), "once")
    assert code == 0 and "0 new articles" in out, out + err
    assert [
        each["id"]
        for each in cli.json("-c", str(tmp_path / "monitor.yaml"), "search", "drill", "--format", "json")
    ] == [found["id"]]


def test_a_title_of_a_whole_text_is_cut_to_a_headline(cli: Cli, tmp_path: Path, site: Site) -> None:
    """Found by a review: a feed putting 200,000 characters in its items' titles made each search
    page 6 MB, each feed 10 MB, and the article page's heading 28,000 px tall on a phone."""
    title = "Iron Dome drill " + "and more words " * 13_000
    found = _the_one_item_stored(cli, tmp_path, site, date="", title=title)
    assert len(found["title"]) <= 1_001 and found["title"].endswith("…")
    assert found["title"][:-1].split()[-1] in {"and", "more", "words"}  # cut at a space
    assert found["title"].startswith("Iron Dome drill and more") and found["rules"] == ["Iron Dome"]


@pytest.mark.parametrize(
    "joined", ["\U0001f1ee\U0001f1f1", "e\u0301", "\U0001f468\u200d\U0001f469\u200d\U0001f467"]
)
def test_a_title_without_spaces_is_cut_between_characters_as_a_reader_sees_them(joined: str) -> None:
    """Found by a review: cut at 1,000 code points, a title of flags ended in half a flag."""
    for lead in range(4):
        title = "x" * lead + joined * 1_000
        cut = headline(title)
        assert cut.endswith("…") and len(cut) <= 1_001
        kept = cut[:-1]
        assert kept and (kept.removeprefix("x" * lead).replace(joined, "") == ""), (lead, kept[-4:])


def _the_one_item_stored(
    cli: Cli, tmp_path: Path, site: Site, date: str, title: str = "Iron Dome drill"
) -> dict[str, Any]:
    """The JSON of the one item of a feed, dated `date` (RFC 822; empty: none), once polled."""
    item = {"title": title, "link": site.url("/a/1"), "description": "A drill.", "date": date}
    site.routes["/one.xml"] = Route(fixtures.rss([item]))
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        defaults={"full_text": "never"},
        sources=[{"name": "One", "url": site.url("/one.xml")}],
    )
    cli("-c", str(config), "once")
    [found] = cli.json("-c", str(config), "search", "Iron Dome", "--format", "json")
    return dict(found)
