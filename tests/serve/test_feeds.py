"""A rule's matches as Atom 1.0 and JSON Feed 1.1, read back by feedparser and by the monitor's
own feed parser, as a desk's feed reader would."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import httpx

from monitor.archive.sql import SqlArchive
from monitor.ingest.parse.feeds import parse_feed
from monitor.models import ArchivedArticle, Article, Hit
from monitor.serve.feeds import FeedAddresses, json_feed
from monitor.serve.rendering import hits_shown
from tests.archive.helpers import NOW, make_article
from tests.configs import RULES, monitor_config
from tests.serve.conftest import (
    Served,
    archive_with_articles,
    free_port,
    serving,
    start_serving,
    stop,
    wait_until_up,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def test_the_atom_feed_has_one_entry_per_story_and_why_it_matched(served: Served) -> None:
    response = served.get("/feeds/rules/Iron Dome.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.title == "Iron Dome: matches"
    [entry] = parsed.entries  # the article and its copy are one story
    assert entry.id == "urn:monitor:story:dome" and entry.link == "https://news.test/dome"
    assert "Iron Dome: The Iron Dome was shown." in entry.content[0].value
    assert "also reported by Coast Wire" in entry.content[0].value
    ours = parse_feed(response.content, served.base + "/feeds/rules/Iron Dome.atom", {}, datetime.now(UTC))
    assert [(item.url, item.title) for item in ours.entries] == [
        ("https://news.test/dome", "Iron Dome visit")
    ]


def test_the_atom_feed_has_what_rfc_4287_requires(served: Served) -> None:
    feed = ElementTree.fromstring(served.get("/feeds/rules/Taiwan Shield.atom").content)
    for required in ("id", "title", "updated", "author"):
        assert feed.find(ATOM + required) is not None, required
    assert feed.findtext(ATOM + "id") == "urn:monitor:rule:Taiwan%20Shield"  # an IRI has no spaces
    self_link = feed.find(ATOM + "link[@rel='self']")
    assert self_link is not None and self_link.get("href", "").endswith("/feeds/rules/Taiwan%20Shield.atom")
    [entry] = feed.findall(ATOM + "entry")
    for required in ("id", "title", "updated", "link", "author", "summary", "content"):
        assert entry.find(ATOM + required) is not None, required
    updated = entry.findtext(ATOM + "updated") or ""
    assert datetime.fromisoformat(updated.replace("Z", "+00:00")).tzinfo is not None


def test_markup_from_a_page_stays_text_in_the_feeds(served: Served) -> None:
    atom = served.get("/feeds/rules/Japan-Israel laser.atom")
    [entry] = feedparser.parse(atom.content).entries
    assert entry.title == "<script>window.__xss=1</script>Laser weapon test"  # text, as the page gave it
    content = entry.content[0].value
    assert "<img" not in content and "&lt;img" in content and "&lt;b&gt;Evil" in content
    feed = served.get("/feeds/rules/Japan-Israel laser.json").json()
    [item] = feed["items"]
    assert "<img" not in item["content_html"] and "<b>" not in item["content_html"]


def test_the_json_feed_is_version_1_1_with_one_item_per_story(served: Served) -> None:
    response = served.get("/feeds/rules/Iron Dome.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    feed = response.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["feed_url"].endswith(".json")
    [item] = feed["items"]
    assert item["id"] == "urn:monitor:story:dome" and item["url"] == "https://news.test/dome"
    assert item["_monitor"]["also_reported_by"] == [{"source": "Coast Wire", "url": "https://wire.test/dome"}]
    ours = parse_feed(response.content, served.base + "/x.json", dict(response.headers), datetime.now(UTC))
    assert [entry.url for entry in ours.entries] == ["https://news.test/dome"]


def test_a_feed_of_an_unknown_rule_is_not_found_and_names_the_known_ones(served: Served) -> None:
    for path in ("/feeds/rules/Nothing.atom", "/feeds/rules/Nothing.json"):
        response = served.get(path)
        assert response.status_code == 404 and "Iron Dome" in response.json()["error"]
    assert served.get("/feeds/rules/iron dome.atom").status_code == 200  # in the config's case or not
    assert served.get("/rules/Nothing").status_code == 404  # as the rule's page
    page = served.get("/rules/iron dome")
    assert page.status_code == 200 and "<h1>Iron Dome</h1>" in page.text


def test_a_feed_stays_well_formed_with_control_characters_in_a_link(tmp_path: Path) -> None:
    """Found by a review: a stored URL holding control characters made the whole Atom feed
    malformed (attributes were written raw), so every reader refused it."""
    archive_with_articles(tmp_path)
    _store(
        tmp_path,
        [make_article("odd", url="https://news.test/x\x01\x02y", published=NOW + timedelta(hours=2))],
    )
    with serving(monitor_config(tmp_path)) as base:
        parsed = feedparser.parse(httpx.get(base + "/feeds/rules/Iron Dome.atom").content)
    assert not parsed.bozo and parsed.entries[0].link == "https://news.test/xy"


def test_a_feed_names_its_one_address_and_its_rules_page(served: Served) -> None:
    """Asked in another case, a feed still gives the address of the rule as configured (a
    reader keeps one subscription), and both feeds lead to the rule's page."""
    feed = served.get("/feeds/rules/TAIWAN%20shield.json").json()
    assert feed["feed_url"] == served.base + "/feeds/rules/Taiwan%20Shield.json"
    assert feed["home_page_url"] == served.base + "/rules/Taiwan%20Shield"
    atom = ElementTree.fromstring(served.get("/feeds/rules/taiwan shield.atom").content)
    links = {link.get("rel"): link.get("href") for link in atom.findall(ATOM + "link")}
    assert links == {
        "self": served.base + "/feeds/rules/Taiwan%20Shield.atom",
        "alternate": served.base + "/rules/Taiwan%20Shield",
    }
    # A reader given the rule's page finds its feeds there.
    page = served.get("/rules/Taiwan Shield").text
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/feeds/rules/Taiwan%20Shield.json">' in page


def test_feed_entries_say_their_language_and_are_never_updated_before_published(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    dated_ahead = make_article("ahead", url="https://news.test/ahead", published=NOW + timedelta(hours=3))
    _store(tmp_path, [dated_ahead])  # an archive may hold one from before dates were kept to the fetch
    with serving(monitor_config(tmp_path)) as base:
        shield = feedparser.parse(httpx.get(base + "/feeds/rules/Taiwan Shield.atom").content)
        dome = ElementTree.fromstring(httpx.get(base + "/feeds/rules/Iron Dome.atom").content)
    assert [entry.title_detail.language for entry in shield.entries] == ["zh"]
    for entry in dome.findall(ATOM + "entry"):
        published, updated = (entry.findtext(ATOM + name) or "" for name in ("published", "updated"))
        assert updated >= published, entry.findtext(ATOM + "id")


def test_a_rule_named_with_a_slash_has_its_page_and_feeds(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    rules = [{"name": "Laser/Dome ?#%", "terms": ["Iron Dome"]}, {"name": "../etc", "terms": ["Iron Dome"]}]
    port = free_port()
    process = start_serving(monitor_config(tmp_path, watch=rules), "serve", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        rules_page = httpx.get(base + "/rules").text
        assert 'href="/rules/Laser/Dome%20%3F%23%25"' in rules_page
        assert httpx.get(base + "/rules/Laser/Dome%20%3F%23%25").status_code == 200
        feed = httpx.get(base + "/feeds/rules/Laser/Dome%20%3F%23%25.json")
        assert feed.status_code == 200, feed.text
        assert feed.json()["feed_url"] == base + "/feeds/rules/Laser/Dome%20%3F%23%25.json"
        # A part that is . or .. has its slashes encoded too: a browser resolves /rules/../etc
        # to /etc (found by a review).
        assert 'href="/rules/..%2Fetc"' in rules_page
        rule_page = httpx.get(base + "/rules/..%2Fetc")
        assert rule_page.status_code == 200 and 'href="/feeds/rules/..%2Fetc.atom"' in rule_page.text
        assert httpx.get(base + "/feeds/rules/..%2Fetc.atom").status_code == 200
    finally:
        stop(process)


def test_a_reader_holding_the_feed_is_told_it_has_not_changed_until_a_match_comes(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    rules = [{"name": "Iron Dome", "terms": ["Iron Dome"]}, {"name": "Quiet", "terms": ["zqxj"]}]
    with serving(monitor_config(tmp_path, watch=rules)) as base:
        tags = {}
        for path in ("/feeds/rules/Iron Dome.atom", "/feeds/rules/Iron Dome.json", "/feeds/rules/Quiet.atom"):
            first = httpx.get(base + path)
            tag = tags[path] = first.headers["etag"]
            for held in (tag, f"W/{tag}", f'"other", {tag}', "*"):
                again = httpx.get(base + path, headers={"If-None-Match": held})
                assert again.status_code == 304 and again.content == b"", (path, held)
                assert again.headers["etag"] == tag
            time.sleep(1.1)  # an empty feed's `updated` is not the time of each poll
            other = httpx.get(base + path, headers={"If-None-Match": '"other"'})
            assert other.status_code == 200 and other.content == first.content, path
        _store(
            tmp_path, [make_article("news", url="https://news.test/news", published=NOW + timedelta(hours=3))]
        )
        for path, tag in tags.items():
            changed = httpx.get(base + path, headers={"If-None-Match": tag})
            assert (changed.status_code == 200) == path.startswith("/feeds/rules/Iron Dome"), path


def test_a_match_dated_earlier_than_the_feeds_entries_still_reaches_its_readers(tmp_path: Path) -> None:
    """Found by a review: the feed was the rule's newest matches by publication, so 60 matches
    dated 8 h ahead (a source's clock) kept out a match that came later dated 10 minutes ago."""
    archive_with_articles(tmp_path)
    now = datetime.now(UTC)
    ahead = [
        make_article(
            f"ahead{n:02d}",
            url=f"https://news.test/ahead{n}",
            published=now + timedelta(hours=8),
            fetched=now - timedelta(hours=1),
        )
        for n in range(60)
    ]
    fresh = make_article(
        "fresh", url="https://news.test/fresh", published=now - timedelta(minutes=10), fetched=now
    )
    _store(tmp_path, ahead, [fresh])  # the fresh one stored last
    with serving(monitor_config(tmp_path)) as base:
        atom = feedparser.parse(httpx.get(base + "/feeds/rules/Iron Dome.atom").content)
        items = httpx.get(base + "/feeds/rules/Iron Dome.json").json()["items"]
    for entries in ([entry.link for entry in atom.entries], [item["url"] for item in items]):
        assert len(entries) == 50 and "https://news.test/fresh" in entries
        assert "https://news.test/dome" not in entries  # the match that came first gave way
    published = [entry.published for entry in atom.entries]
    assert published == sorted(published, reverse=True)  # shown newest first, as before


def test_a_poll_of_many_matches_shows_its_newest_first(tmp_path: Path) -> None:
    """A poll stores its feed's items newest first: read as stored, a first poll of 47 matches
    showed its oldest 30 on the first page (October's, not December's); and a poll of more than
    the matches read back still showed its oldest (two reviews)."""
    archive_with_articles(tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    poll = [
        make_article(
            f"p{n:03d}", url=f"https://news.test/p{n}", published=now - timedelta(hours=n), fetched=now
        )
        for n in range(300)
    ]  # as the feed lists them
    _store(tmp_path, poll)
    with serving(monitor_config(tmp_path)) as base:
        first_page = httpx.get(base + "/").text
        feed = httpx.get(base + "/feeds/rules/Iron Dome.json").json()["items"]
    listed = re.findall(r'href="/articles/(p\d\d\d)"', first_page)
    assert listed == [f"p{n:03d}" for n in range(30)]
    assert [item["url"] for item in feed] == [f"https://news.test/p{n}" for n in range(50)]


def test_the_sources_of_one_pass_are_shown_together_newest_first(tmp_path: Path) -> None:
    """One pass polls its sources milliseconds apart: taken by the exact moment, the first page
    showed them a source at a time, a source's old stories above another's new ones."""
    archive_with_articles(tmp_path)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    alpha = [
        make_article("a-new", url="https://news.test/a-new", published=now - timedelta(hours=1), fetched=now)
    ]
    beta = [
        make_article("b-old", url="https://news.test/b-old", published=now - timedelta(days=3),
                     fetched=now + timedelta(milliseconds=3)),
    ]  # fmt: skip
    _store(tmp_path, alpha, beta)
    with serving(monitor_config(tmp_path)) as base:
        first_page = httpx.get(base + "/").text
    listed = re.findall(r'href="/articles/([ab]-\w+)"', first_page)
    assert listed == ["a-new", "b-old"]


def _store(folder: Path, *batches: list[Article]) -> None:
    """Each batch stored in turn into the archive of archive_with_articles(folder)."""
    archive = SqlArchive(f"sqlite:///{folder / 'data' / 'monitor.db'}")
    try:
        for batch in batches:
            archive.store_new(batch, [])
    finally:
        archive.close()


def test_a_feed_shows_text_as_written_and_a_few_places_an_entry(tmp_path: Path) -> None:
    """Found by a review: a title's right-to-left override reached feed readers (a file name's
    extension turned round: "gnp.exe"), as the pages no longer show; and an article a rule hit
    twenty times gave its entry twenty lines, as its line in a results page did."""
    archive_with_articles(tmp_path)
    text = "The Iron Dome was shown. " * 30
    hits = tuple(
        Hit("Iron Dome", "Iron Dome", "text", 4 + 25 * n, 13 + 25 * n, f"place {chr(65 + n)}")
        for n in range(20)
    )
    spoofed = make_article(
        "spoofed",
        title="Dome says \u202egnp.exe\u202c safe",
        text=text,
        hits=hits,
        published=NOW + timedelta(hours=1),
    )
    _store(tmp_path, [spoofed])
    with serving(monitor_config(tmp_path)) as base:
        atom = feedparser.parse(httpx.get(base + "/feeds/rules/Iron Dome.atom").content)
        json_feed = httpx.get(base + "/feeds/rules/Iron Dome.json").json()
        page = httpx.get(base + "/rules/Iron Dome").text
        search = httpx.get(base + "/", params={"q": "NOT zzzq"}).text  # the rules' hits shown
    [entry] = [each for each in atom.entries if "spoofed" in each.link]
    assert entry.title == "Dome says gnp.exe safe"
    [item] = [each for each in json_feed["items"] if each["url"].endswith("/spoofed")]
    assert item["title"] == "Dome says gnp.exe safe" and "\u202e" not in json.dumps(item, ensure_ascii=False)
    assert item["_monitor"]["hits"][-2:] == ["Iron Dome: place E", "and 15 more places in the article"]
    assert "place E" in entry.content[0].value and "place F" not in entry.content[0].value
    for listed in (page, search):
        assert "place E" in listed and "place F" not in listed
        assert "15 more places in the article</a>" in listed


def test_a_feed_entry_counts_an_articles_places_as_its_pages_do() -> None:
    """Found by a review: a page merged snippets one inside another (the same words found in
    the teaser and the text) and said "5 more places", the feed listed them all ("8 more")."""
    hits = tuple(Hit("Iron Dome", "Iron Dome", "text", n, n + 9, f"the dome place {n}") for n in range(12))
    item = ArchivedArticle(make_article("nested", hits=hits), ())
    shown = hits_shown(item.article, "Iron Dome")  # "...place 1" is within "...place 10": once
    addresses = FeedAddresses("http://x.test/f.json", "http://x.test/r")
    lines = json_feed("Iron Dome", [item], addresses)["items"][0]["_monitor"]["hits"]
    assert len(shown) < 12 and lines[-1] == f"and {len(shown) - 5} more places in the article"
    assert lines[:5] == [f"{hit.term}: {hit.snippet}" for hit in shown[:5]]


def test_a_rule_spelled_otherwise_than_its_hits_keeps_its_feed_counts_and_filter(tmp_path: Path) -> None:
    """Found by two reviews: a `monitor serve` whose config spells a rule otherwise than its
    stored hits (one name: case and Unicode form aside), started before the daemon that files
    them under the new spelling, or left running after it, showed the rule empty everywhere."""
    archive_with_articles(tmp_path)  # two matches of `Japan documents`, one of the last day
    renamed = [
        {**rule, "name": "JAPAN Documents"} if rule["name"] == "Japan documents" else rule for rule in RULES
    ]
    with serving(monitor_config(tmp_path, watch=renamed)) as base:
        [rule] = [
            each for each in httpx.get(base + "/api/v1/rules").json() if each["name"] == "JAPAN Documents"
        ]
        assert rule["matches"] == {"24h": 1, "7d": 1, "30d": 2}
        feed = httpx.get(base + "/feeds/rules/JAPAN Documents.json").json()
        assert len(feed["items"]) == 2
        assert all("安保3文書: 政府は安保3文書を改定" in item["content_html"] for item in feed["items"])
        assert "<mark>" in httpx.get(base + "/rules/JAPAN Documents").text
        found = httpx.get(base + "/api/v1/articles", params={"rule": "japan documents"}).json()["articles"]
        assert sorted(article["id"] for article in found) == ["docs-old", "docs-today"]
        series = httpx.get(
            base + "/api/v1/stats/mentions", params={"rule": "JAPAN Documents", "since": "30d"}
        )
        [line] = series.json()["series"]
        assert line["rule"] == "JAPAN Documents" and sum(point["count"] for point in line["points"]) == 2
        assert 'monitor_rule_matches_24h{rule="JAPAN Documents"} 1.0' in httpx.get(base + "/metrics").text
