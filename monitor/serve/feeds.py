"""A rule's matches as a feed a desk subscribes to in any reader: Atom 1.0 (RFC 4287) and JSON
Feed 1.1, one entry per story (its newest copy, the others named), with the summary and the
hit snippets that say why it matched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

from markupsafe import escape

from monitor.archive import Archive
from monitor.models import ArchivedArticle, Article
from monitor.payloads import iso
from monitor.serve.rendering import HITS_LISTED, as_written, hits_shown

ATOM = "http://www.w3.org/2005/Atom"
JSON_FEED = "https://jsonfeed.org/version/1.1"
MOST_READ_FOR = 32  # matches read back for a list of stories, at most, a story
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def one_per_story(found: Sequence[ArchivedArticle]) -> list[ArchivedArticle]:
    """The newest copy (by publication) of each story, the stories in the order they first
    come in `found`."""
    newest: dict[str, ArchivedArticle] = {}
    for item in found:
        kept = newest.get(item.article.story)
        if kept is None or item.article.published > kept.article.published:
            newest[item.article.story] = item  # a story keeps its place
    return list(newest.values())


def latest_stories(archive: Archive, rule: str | None, wanted: int) -> list[ArchivedArticle]:
    """The `wanted` stories the rule (None: any) matched last (Archive.rule_arrivals), each its
    newest copy: by the minute they came, the latest first, and within a minute newest published
    first. A poll stores its feed's items as the feed lists them, newest first: read as they were
    stored, a first poll of 47 matches put its oldest first (the first page showed October's
    stories, not December's). So the matches are read back until the stories of minutes after
    the oldest minute read fill the list (a poll cut at the window's end is read whole), at most
    MOST_READ_FOR times the stories wanted; by the minute, so that the sources one pass polls a
    few milliseconds apart are not shown a source at a time."""
    limit = 4 * wanted  # a story's copies take several
    while True:
        found = sorted(archive.rule_arrivals(rule, limit), key=_arrival, reverse=True)
        if len(found) < limit or limit >= MOST_READ_FOR * wanted:
            return one_per_story(found)[:wanted]
        oldest = _arrival(found[-1])[0]
        whole = one_per_story([item for item in found if _arrival(item)[0] > oldest])
        if len(whole) >= wanted:
            return whole[:wanted]
        limit *= 2


def _arrival(item: ArchivedArticle) -> tuple[datetime, datetime]:
    return item.article.fetched.replace(second=0, microsecond=0), item.article.published


def _why(item: ArchivedArticle, rule: str) -> list[str]:
    """The rule's places in the article, as its pages list them (each snippet once), the first
    HITS_LISTED, and how many more there are."""
    lines = [f"{hit.term}: {hit.snippet}" for hit in hits_shown(item.article, rule)]
    more = len(lines) - HITS_LISTED
    return lines[:HITS_LISTED] + ([f"and {more} more places in the article"] if more > 0 else [])


def _html(item: ArchivedArticle, rule: str) -> str:
    """The entry's content as HTML, every value escaped (article text is untrusted)."""
    parts = [f"<p>{escape(item.article.summary)}</p>"]
    why = _why(item, rule)
    if why:
        parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in why) + "</ul>")
    others = ", ".join(str(escape(source)) for source, _url in item.also_reported_by)
    parts.append(
        f"<p>Source: {escape(item.article.source)}"
        + (f"; also reported by {others}" if others else "")
        + "</p>"
    )
    return "".join(parts)


class FeedAddresses(NamedTuple):
    """A feed's own address and the page of its rule."""

    feed: str
    page: str


def atom_feed(
    rule: str, stories: Sequence[ArchivedArticle], addresses: FeedAddresses, updated_when_empty: datetime
) -> bytes:
    """Atom 1.0 of the stories, the feed updated when the newest was fetched."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"urn:monitor:rule:{quote(rule, safe='')}")  # a URI: no spaces
    _text(feed, "title", f"{rule}: matches")
    _text(
        feed,
        "updated",
        iso(max((_updated(item.article) for item in stories), default=updated_when_empty)) or "",
    )
    ElementTree.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=_xml_safe(addresses.feed))
    ElementTree.SubElement(
        feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=_xml_safe(addresses.page)
    )
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "monitor")
    for item in stories:
        article = item.article
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        if article.language:
            entry.set(XML_LANG, article.language)
        _text(entry, "id", f"urn:monitor:story:{article.story}")
        _text(entry, "title", article.title or article.url)
        ElementTree.SubElement(
            entry, f"{{{ATOM}}}link", rel="alternate", href=_xml_safe(_web_link(article.url))
        )
        _text(entry, "published", iso(article.published) or "")
        _text(entry, "updated", iso(_updated(article)) or "")
        entry_author = ElementTree.SubElement(entry, f"{{{ATOM}}}author")
        _text(entry_author, "name", article.source)
        _text(entry, "summary", article.summary)
        content = _text(entry, "content", _html(item, rule))
        content.set("type", "html")
    return bytes(ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True))


def _text(parent: ElementTree.Element, name: str, value: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _xml_safe(value)
    return element


def _xml_safe(text: str) -> str:
    """The text as_written, without the characters XML 1.0 cannot carry (control characters a
    page held)."""
    return "".join(
        character
        for character in as_written(text)
        if character in "\t\n\r"
        or "\x20" <= character <= "\ud7ff"
        or "\ue000" <= character <= "\ufffd"
        or character >= "\U00010000"
    )


def _updated(article: Article) -> datetime:
    """An entry's `updated`: when the article came or was last revised (its feed entry changed:
    a reader then shows the new version), or its date if later (an archive may hold articles
    dated ahead of their fetch), so that it is never before `published`."""
    return max(article.revised or article.fetched, article.published)


def json_feed(rule: str, stories: Sequence[ArchivedArticle], addresses: FeedAddresses) -> dict[str, Any]:
    return {
        "version": JSON_FEED,
        "title": f"{rule}: matches",
        "home_page_url": addresses.page,
        "feed_url": addresses.feed,
        "authors": [{"name": "monitor"}],
        "items": [
            {
                "id": f"urn:monitor:story:{item.article.story}",
                "url": _web_link(item.article.url),
                "title": as_written(item.article.title),
                "summary": as_written(item.article.summary),
                "content_html": as_written(_html(item, rule)),
                "date_published": iso(item.article.published),
                "date_modified": iso(_updated(item.article)),
                "authors": [{"name": as_written(item.article.source)}],
                "language": item.article.language,
                "tags": list(item.article.rules),
                "_monitor": {
                    "hits": [as_written(line) for line in _why(item, rule)],
                    "also_reported_by": [{"source": s, "url": u} for s, u in item.also_reported_by],
                },
            }
            for item in stories
        ],
    }


def _web_link(url: str) -> str:
    """The link when it is http(s); a reader is never handed a javascript: or data: URL."""
    return url if urlsplit(url).scheme in ("http", "https") else ""
