from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from monitor.errors import ParseError
from monitor.ingest.parse.feeds import as_utf8, parse_feed, parse_with_feedparser
from monitor.ingest.parse.normalize import canonical_url, entry_hash
from monitor.ingest.parse.xmlfeeds import parse_well_formed
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


def test_relative_links_resolve_and_linkless_entries_are_kept_without_a_page() -> None:
    body = fixtures.rss(
        [{"title": "relative", "link": "/r/1"}, {"title": "Status: T-Dome drill today", "link": ""}]
    )
    relative, linkless = parse(body)
    assert relative.url == f"{BASE}/r/1" and relative.has_page
    assert linkless.url.startswith(f"{BASE}/feed#entry-") and not linkless.has_page
    assert canonical_url(linkless.url) == linkless.url  # the fragment names the entry: it stays
    assert parse(body)[1].url == linkless.url  # and is the same on every poll


def test_json_feed_becomes_the_same_records() -> None:
    for content_type in ("application/feed+json", "application/octet-stream"):
        parsed = parse_feed(
            fixtures.json_feed(BASE), f"{BASE}/feed.json", {"content-type": content_type}, NOW
        )
        assert parsed.title == "Strait Notes" and parsed.language == "en-US"
        first, second, linkless = parsed.entries
        assert linkless.title == "No link at all" and not linkless.has_page
        assert (first.url, first.guid, first.title) == (f"{BASE}/notes/1", "sn-1", "T-Dome budget passes")
        assert first.content == "Lawmakers approved the T-Dome air-defence budget."
        assert first.summary == "Budget approved."
        assert first.published == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        assert (second.url, second.guid, second.language) == ("https://elsewhere.test/story", "2", "zh-TW")
        assert second.content == "A plain-text item about 鐵穹." and second.published is None


def test_half_a_utf16_pair_in_a_json_feed_becomes_a_replacement_character() -> None:
    # "\ud800" is valid JSON but no UTF-8 text: the item could not be hashed or stored, and the
    # whole poll of the source failed, every other item lost with it.
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        b'{"id": "1", "url": "https://a.test/1", "title": "Iron Dome \\ud800",'
        b' "summary": "x\\udfff", "content_text": "\\ud83d\\ude00 ok \\udc80"},'
        b'{"id": "2", "url": "https://a.test/2", "title": "Next item"}]}'
    )
    first, second = parse_feed(
        body, f"{BASE}/feed.json", {"content-type": "application/feed+json"}, NOW
    ).entries
    assert (first.title, first.summary, first.content) == (
        "Iron Dome \ufffd",
        "x\ufffd",
        "\U0001f600 ok \ufffd",
    )
    assert entry_hash(first) and second.title == "Next item"


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": "https://jsonfeed.org/version/1", "items": ',
        b'{"version": "https://jsonfeed.org/version/1", "items": {}}',
        b'{"version": "https://jsonfeed.org/version/1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_broken_json_feeds_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError, match="JSON Feed"):
        parse(body, "application/feed+json")


@pytest.mark.parametrize(
    "make", [fixtures.english_feed, fixtures.atom_feed, fixtures.rdf_feed, fixtures.teaser_feed]
)
def test_the_lxml_fast_path_agrees_with_feedparser(make: Callable[[str], bytes]) -> None:
    body, url = make(BASE), f"{BASE}/feed"
    utf8, content_type = as_utf8(body, {})
    fast = parse_well_formed(utf8, url, NOW)
    slow = parse_with_feedparser(utf8, content_type, url, body, NOW)
    assert fast is not None and fast.title == slow.title and fast.language == slow.language
    assert fast.entries == slow.entries


def test_feeds_the_fast_path_leaves_to_feedparser() -> None:
    not_well_formed = fixtures.rss([{"title": "a & b", "link": "/x"}])
    assert parse_well_formed(not_well_formed, BASE, NOW) is None
    assert [entry.title for entry in parse(not_well_formed)] == ["a & b"]
    with_entities = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><rss><channel></channel></rss>'
    assert parse_well_formed(with_entities, BASE, NOW) is None


@pytest.mark.parametrize(
    ("declared", "raw", "text"),
    [("us-ascii", "café".encode("latin-1"), "café"), ("euc-kr", "아이언돔".encode("cp949"), "아이언돔")],
)
def test_declared_encodings_decode_with_their_superset(declared: str, raw: bytes, text: str) -> None:
    body = f'<?xml version="1.0" encoding="{declared}"?><rss><channel><item><title>'.encode() + raw
    body += b"</title><link>http://x.test/1</link></item></channel></rss>"
    [entry] = parse(body)
    assert entry.title == text


def _item(number: int, text: str = "Radar budget talks.") -> dict[str, str]:
    return {"title": f"Report {number}", "link": f"{BASE}/news/{number}", "description": text}


def test_items_unchanged_since_the_last_read_are_skipped() -> None:
    first = parse_feed(fixtures.rss([_item(1), _item(2)]), f"{BASE}/feed", {}, NOW)
    assert len(first.digests) == 2 and first.unchanged == 0
    body = fixtures.rss([_item(3), _item(1), _item(2, "Radar budget talks, now with an Iron Dome order.")])
    again = parse_feed(body, f"{BASE}/feed", {}, NOW, frozenset(first.digests))
    assert [entry.title for entry in again.entries] == ["Report 3", "Report 2"]  # new, and edited
    assert again.unchanged == 1 and len(again.digests) == 3 and first.digests[0] in again.digests


def test_an_item_is_only_skipped_for_the_feed_that_listed_it() -> None:
    body = fixtures.rss([_item(1)])
    first = parse_feed(body, f"{BASE}/feed", {}, NOW)
    elsewhere = parse_feed(body, f"{BASE}/other-feed", {}, NOW, frozenset(first.digests))
    assert elsewhere.unchanged == 0 and len(elsewhere.entries) == 1


def test_atom_entries_are_skipped_alike_and_feedparser_skips_nothing() -> None:
    body = fixtures.atom_feed(BASE)
    first = parse_feed(body, f"{BASE}/atom", {}, NOW)
    again = parse_feed(body, f"{BASE}/atom", {}, NOW, frozenset(first.digests))
    assert (len(first.entries), again.entries, again.unchanged) == (1, [], 1)
    utf8, content_type = as_utf8(body, {})
    slow = parse_with_feedparser(utf8, content_type, f"{BASE}/atom", body, NOW)
    assert slow.digests == () and len(slow.entries) == 1


DOCUMENT_MOVED = (
    b"<head><title>Document Moved</title></head>\r\n<body><h1>Object Moved</h1>This document may be "
    b'found <a HREF="https://example.org/rss">here</a></body>'
)


@pytest.mark.parametrize("content_type", ["application/rss+xml", "application/xml", "text/xml"])
def test_an_html_page_labelled_as_a_feed_is_a_parse_error(content_type: str) -> None:
    for page in (
        DOCUMENT_MOVED,
        b"\xef\xbb\xbf<!-- moved -->\n<!DOCTYPE html><html><body>gone</body></html>",
    ):
        with pytest.raises(ParseError, match="HTML page, not a feed"):
            parse(page, content_type)


def test_a_body_that_parses_to_nothing_is_a_parse_error_but_an_empty_feed_is_not() -> None:
    with pytest.raises(ParseError, match="no RSS, Atom or RDF document"):
        parse(b"<?xml version='1.0'?><status><code>moved</code></status>", "application/rss+xml")
    assert parse(fixtures.rss([])) == []


def _shared(parsed: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(entry.url.rsplit("/", 1)[-1], entry.shared_page) for entry in parsed]


@pytest.mark.parametrize("path", ["fast", "feedparser", "json"])
def test_entries_at_one_page_are_marked_shared_on_every_parsing_path(path: str) -> None:
    """A live blog's posts (#u1, #u2) and a podcast's episodes at its home page are entries of
    their own, their page no one's; one article under tracking parameters is one entry's."""
    links = [
        ("https://ex.org/live#u1", "u1"),
        ("https://ex.org/live#u2", "u2"),
        ("https://ex.org/", "ep-1"),
        ("https://ex.org/", "ep-2"),
        ("https://ex.org/a?utm_source=rss", "a-1"),
        ("https://ex.org/a?fbclid=x", "a-2"),
        # A review: posts under tracking parameters of their own, told apart by fragments.
        ("https://ex.org/b?utm_content=p1#p1", "b-1"),
        ("https://ex.org/b?utm_content=p2#p2", "b-2"),
    ]
    if path == "json":
        items = [{"id": guid, "url": link, "content_text": f"Text {guid}."} for link, guid in links]
        document = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": items}
        headers = {"content-type": "application/feed+json"}
        entries = parse_feed(json.dumps(document).encode(), "https://ex.org/feed.json", headers, NOW).entries
    else:
        rss = fixtures.rss([{"title": f"T {guid}", "link": link, "guid": guid} for link, guid in links])
        if path == "feedparser":  # not well formed: the lxml path declines it
            rss = rss.replace(b"<description>test feed</description>", b"<description>a & b</description>")
            entries = parse_with_feedparser(rss, "application/xml", "https://ex.org/feed", rss, NOW).entries
        else:
            parsed = parse_well_formed(rss, "https://ex.org/feed", NOW)
            assert parsed is not None
            entries = parsed.entries
    assert _shared(entries) == [
        ("live#u1", True), ("live#u2", True), ("", True), ("", True),
        ("a?utm_source=rss", False), ("a?fbclid=x", False),
        ("b?utm_content=p1#p1", True), ("b?utm_content=p2#p2", True),
    ]  # fmt: skip


def test_items_whose_links_do_not_parse_are_still_articles_of_their_own() -> None:
    """A link urlsplit refuses (a broken IPv6 address, a port past 65535) failed the whole
    feed's poll; such items are kept, told apart as any."""
    from monitor.ingest.parse.entries import with_shared_pages
    from monitor.ingest.poll.storing import articles_of
    from monitor.models import FeedEntry

    entries = with_shared_pages(
        [
            FeedEntry("http://[::1/live#a", "g1", "A", "one", "", None),
            FeedEntry("http://[::1/live#b", "g2", "B", "two", "", None),
            FeedEntry("http://example.org:99999/x", "g3", "C", "three", "", None),
        ]
    )
    assert [url for url, _ in articles_of(entries).values()] == [
        "http://[::1/live#a",
        "http://[::1/live#b",
        "http://example.org:99999/x",
    ]
