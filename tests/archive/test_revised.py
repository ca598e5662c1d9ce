"""When an article was revised (a new version of its feed entry replaced it): kept by both
backends and by a copy to PostgreSQL, and given by the feeds of matches as the entry's
`updated`, so that a reader shows the new version."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

from monitor.archive import Archive
from monitor.archive.copying import copy_archive
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive
from monitor.payloads import article_json
from monitor.serve.feeds import FeedAddresses, atom_feed, json_feed
from tests.archive.helpers import NOW, make_article

ATOM = "{http://www.w3.org/2005/Atom}"
LATER = NOW + timedelta(hours=5)


def _revise(archive: Archive) -> None:
    first = make_article(
        "a", text="The Iron Dome was shown.", fetched=NOW, published=NOW - timedelta(hours=1)
    )
    archive.store_new([first, make_article("b", url="https://news.test/b")], [])
    second = replace(
        first, text="The Iron Dome was shown again, and tested.", fetched=LATER, content_hash="v2"
    )
    assert archive.update(second, [])


def test_a_revised_article_says_when(archive: Archive) -> None:
    _revise(archive)
    revised, untouched = archive.article("a"), archive.article("b")
    assert revised is not None and untouched is not None
    assert revised.article.revised == LATER and revised.article.fetched == NOW  # it came at NOW
    assert untouched.article.revised is None
    addresses = FeedAddresses("http://x.test/feeds/rules/Iron%20Dome.atom", "http://x.test/rules/Iron%20Dome")
    feed = ElementTree.fromstring(atom_feed("Iron Dome", [revised, untouched], addresses, NOW))
    assert feed.findtext(ATOM + "updated") == "2026-01-06T14:30:00Z"
    [entry, _] = feed.findall(ATOM + "entry")
    assert (entry.findtext(ATOM + "published"), entry.findtext(ATOM + "updated")) == (
        "2026-01-06T08:30:00Z",
        "2026-01-06T14:30:00Z",
    )
    assert json_feed("Iron Dome", [revised], addresses)["items"][0]["date_modified"] == "2026-01-06T14:30:00Z"
    # The article's JSON (the API, search --format json, the webhook) says it too (a review: an
    # API client could not tell that an article had a new version).
    assert article_json(revised)["revised"] == "2026-01-06T14:30:00Z"
    assert article_json(untouched)["revised"] is None
    assert article_json(revised)["fetched"] == "2026-01-06T09:30:00Z"


def test_a_copy_to_postgresql_keeps_when_an_article_was_revised(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    source = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    target = PostgresArchive(postgres_url, schema=postgres_schema)
    try:
        _revise(source)
        copy_archive(source.db, target.db)
        copied = target.article("a")
        assert copied is not None and copied.article.revised == LATER
    finally:
        source.close()
        target.close()
