from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.errors import ParseError
from monitor.ingest.feeds import parse_feed
from tests import fixtures

NOW = datetime(2026, 1, 7, tzinfo=UTC)
BASE = "http://feeds.test"


def parse(body: bytes, content_type: str = "application/xml") -> list:  # type: ignore[type-arg]
    return parse_feed(body, f"{BASE}/feed", {"content-type": content_type}, NOW).entries


def test_rss2_entries_become_typed_records() -> None:
    entries = parse(fixtures.english_feed(BASE))
    assert len(entries) == 3
    first = entries[0]
    assert first.url == f"{BASE}/news/1?utm_source=rss&id=7"
    assert first.guid == "harbor-1"
    assert first.title == "Delegation studies Iron-Dome battery"
    assert first.summary.startswith("Visitors from Tokyo toured an IRON DOME site")
    assert first.published == fixtures.PUBLISHED


def test_atom_with_html_content_and_language() -> None:
    [entry] = parse(fixtures.atom_feed(BASE))
    assert entry.url == f"{BASE}/ja/100"
    assert entry.language == "ja"
    assert "アイアン・ドーム" in entry.summary  # feedparser's summary of a content-only entry
    assert "<p>" not in entry.summary and entry.content == ""


def test_rdf() -> None:
    [entry] = parse(fixtures.rdf_feed(BASE))
    assert entry.title == "Koizumi visit focuses on lasers"
    assert entry.published == datetime(2026, 1, 6, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "text"),
    [(fixtures.big5_feed(BASE), "台灣之盾"), (fixtures.shift_jis_feed(BASE), "国家防衛戦略")],
)
def test_declared_legacy_encodings(body: bytes, text: str) -> None:
    [entry] = parse(body)
    assert text in entry.summary


def test_not_a_feed_is_a_parse_error_naming_the_url() -> None:
    with pytest.raises(ParseError, match=f"{BASE}/feed"):
        parse(fixtures.NOT_A_FEED)
    with pytest.raises(ParseError, match="HTML page"):
        parse(fixtures.LOGIN_PAGE, "text/html")


def test_path_like_body_is_not_opened() -> None:
    with pytest.raises(ParseError):
        parse(b"/etc/passwd")


def test_entity_declarations_are_stripped() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>&b;</title>'
        b"<link>http://feeds.test/1</link></item></channel></rss>"
    )
    entries = parse(bomb)
    assert all("aaaaaaaaaa" not in entry.title for entry in entries)


def test_absurd_dates_are_dropped() -> None:
    body = fixtures.rss(
        [
            {"title": "future", "link": f"{BASE}/f", "date": "Tue, 06 Jan 2099 09:30:00 GMT"},
            {"title": "ancient", "link": f"{BASE}/a", "date": "Tue, 06 Jan 1970 09:30:00 GMT"},
        ]
    )
    assert [entry.published for entry in parse(body)] == [None, None]


def test_entries_without_any_link_are_skipped_and_relative_links_resolved() -> None:
    body = fixtures.rss([{"title": "relative", "link": "/r/1"}, {"title": "none", "link": ""}])
    entries = parse(body)
    assert [entry.url for entry in entries] == [f"{BASE}/r/1"]
