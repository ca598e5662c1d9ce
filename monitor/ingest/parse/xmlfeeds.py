"""The fast path for well-formed feeds: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 1.0 read with lxml.

feedparser reads anything, but slowly (its loose SGML machinery costs ~50x lxml's parse on a
typical feed). Most feeds are well-formed XML in one of three shapes, so those are read here
into the same records; anything else (not well-formed, a DTD, Atom 0.3, an unknown root) returns
None and goes to feedparser, which remains the reference: the real-feed corpus test checks that
both paths agree.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from feedparser.datetimes import _parse_date as _feedparser_date  # no public name; pinned <7
from lxml import etree

from monitor.ingest.parse.dates import parse_iso_date, plausible_date
from monitor.ingest.parse.declarations import strip_declarations
from monitor.ingest.parse.entries import (
    DIGEST_SIZE,
    MAX_ENTRIES,
    MAX_FIELD_CHARS,
    NO_DIGESTS,
    ParsedFeed,
    feed_language,
    with_shared_pages,
)
from monitor.ingest.parse.markup import clean_text, html_to_text
from monitor.models import FeedEntry

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM03 = "{http://purl.org/atom/ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC = "{http://purl.org/dc/elements/1.1/}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
MEDIA = "{http://search.yahoo.com/mrss/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


def parse_well_formed(
    body: bytes, url: str, now: datetime, seen: frozenset[bytes] = NO_DIGESTS
) -> ParsedFeed | None:
    """The feed's title, language and entries, without the items whose digests are in `seen`
    (see ParsedFeed); None when the slow path should read it."""
    if b"<!ENTITY" in body:
        return None
    try:
        root = etree.fromstring(strip_declarations(body), _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            return None
        language = feed_language(root.get(XML_LANG))
        return _rss(channel, channel.iterfind("item"), _Items(url, now, seen), language=language)
    if root.tag == f"{RDF}RDF":
        channel = root.find(f"{RSS1}channel")
        return (
            None
            if channel is None
            else _rss(channel, root.iterfind(f"{RSS1}item"), _Items(url, now, seen), RSS1)
        )
    if root.tag == f"{ATOM}feed":
        return _atom(root, _Items(url, now, seen), ATOM, ("published", "updated"))
    if root.tag == f"{ATOM03}feed":
        return _atom(root, _Items(url, now, seen), ATOM03, ("issued", "created", "modified"))
    return None


class _Items:
    """The entries read from a feed's items, and the digests of all its items."""

    def __init__(self, url: str, now: datetime, seen: frozenset[bytes]) -> None:
        self.url, self.now, self.seen = url, now, seen
        self.entries: list[FeedEntry] = []
        self.digests: list[bytes] = []
        self.marks: list[tuple[str, str]] = []  # every item's link and GUID, for with_shared_pages
        self.unchanged = 0

    def is_new(self, item: etree._Element, language: str | None, mark: tuple[str, str]) -> bool:
        """Whether the item is to be read: it is not, when it is exactly as at the last poll
        (the feed's URL and language are in its digest: they shape the entry too)."""
        self.marks.append(mark)
        digest = hashlib.blake2b(etree.tostring(item), digest_size=DIGEST_SIZE)
        digest.update(f"\n{self.url}\n{language}".encode())
        self.digests.append(digest.digest())
        if self.digests[-1] in self.seen:
            self.unchanged += 1
            return False
        return True

    def parsed(self, title: str, language: str | None) -> ParsedFeed:
        entries = with_shared_pages(self.entries, self.marks)
        return ParsedFeed(title, language, entries, tuple(self.digests), self.unchanged)


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return "".join(element.itertext())[:MAX_FIELD_CHARS].strip()


def _inner(element: etree._Element | None) -> str:
    """An element's content as markup: its text, or, when it holds elements (unescaped HTML
    in a feed, which happens), the elements serialized."""
    if element is None or not len(element):
        return _text(element)
    assert element is not None
    parts = [element.text or ""] + [etree.tostring(child, encoding="unicode") for child in element]
    return "".join(parts)[:MAX_FIELD_CHARS].strip()


def _date(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    found = parse_iso_date(value)
    if found is None:
        with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
            found = parsedate_to_datetime(value)
    if found is None:  # feedparser's many date handlers, for the formats outlets invent
        parsed = _feedparser_date(value)
        with contextlib.suppress(OverflowError, ValueError, OSError):
            found = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC) if parsed else None
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found.astimezone(UTC).replace(microsecond=0) if found else None  # to the second, as feedparser


def _rss(
    channel: etree._Element,
    items: Iterable[etree._Element],
    read: _Items,
    ns: str = "",
    language: str | None = None,
) -> ParsedFeed | None:
    own = _text(channel.find(f"{ns}language")) or _text(channel.find(f"{DC}language"))
    language = feed_language(own) or language
    url, now = read.url, read.now
    for item in list(items)[:MAX_ENTRIES]:
        guid_element = item.find("guid")
        guid = _text(guid_element) or item.get(f"{RDF}about", "")
        if guid and guid_element is not None and guid_element.get("isPermaLink") != "false":
            guid = urljoin(url, guid)  # a permalink is a URL: resolved, as feedparser does
        link = _text(item.find(f"{ns}link"))
        if not read.is_new(item, language, _mark(url, link, guid)):
            continue
        date_text = _text(item.find(f"{ns}pubDate")) or _text(item.find(f"{DC}date"))
        published = _date(date_text)
        if date_text and published is None:
            return None  # a date format only feedparser's many handlers read
        description, podcast = _inner(item.find(f"{ns}description")), _text(item.find(f"{ITUNES}summary"))
        entry = _entry(
            url,
            link,
            guid,
            _inner(item.find(f"{ns}title")),
            description or podcast or _media_description(item),
            _inner(item.find(CONTENT)) or (podcast if description else ""),
            plausible_date(published, now),
            feed_language(_text(item.find(f"{DC}language"))) or language,
        )
        if entry is not None:
            read.entries.append(entry)
    return read.parsed(clean_text(html_to_text(_text(channel.find(f"{ns}title")))), language)


def _media_description(item: etree._Element) -> str:
    """Media RSS's description (YouTube and podcast feeds keep their text there)."""
    return _text(item.find(f"{MEDIA}description")) or _text(item.find(f"{MEDIA}group/{MEDIA}description"))


def _atom_text(element: etree._Element | None) -> str:
    """An Atom text construct as plain text: text, escaped HTML, or inline XHTML."""
    if element is None:
        return ""
    text = _inner(element)
    markup = element.get("type", "text") in ("html", "text/html", "xhtml") or "<" in text
    return html_to_text(text) if markup else clean_text(text)


def _atom(root: etree._Element, read: _Items, ns: str, dates: tuple[str, ...]) -> ParsedFeed | None:
    """Atom 1.0, or Atom 0.3 (its namespace and date names differ; mode="base64" content is left
    to feedparser)."""
    if root.find(f".//{ns}content[@mode='base64']") is not None:
        return None
    language = feed_language(root.get(XML_LANG))
    url, now = read.url, read.now
    base = urljoin(url, root.get(XML_BASE, ""))
    for item in list(root.iterfind(f"{ns}entry"))[:MAX_ENTRIES]:
        links = item.findall(f"{ns}link")
        alternate = next((link for link in links if link.get("rel", "alternate") == "alternate"), None)
        item_base = urljoin(base, item.get(XML_BASE, ""))
        link = (alternate.get("href", "") if alternate is not None else "").strip()
        guid = urljoin(base, _text(item.find(f"{ns}id")))
        if not read.is_new(item, language, _mark(item_base, link, guid)):
            continue
        date_text = next((text for name in dates if (text := _text(item.find(f"{ns}{name}")))), "")
        published = _date(date_text)
        if date_text and published is None:
            return None
        entry = _entry(
            item_base,
            link,
            guid,
            _atom_text(item.find(f"{ns}title")),
            _atom_text(item.find(f"{ns}summary")) or clean_text(_media_description(item)),
            _atom_text(item.find(f"{ns}content")),
            plausible_date(published, now),
            feed_language(item.get(XML_LANG)) or language,
            markup=False,
        )
        if entry is not None:
            read.entries.append(entry)
    return read.parsed(_atom_text(root.find(f"{ns}title")), language)


def _entry(
    base: str,
    link: str,
    guid: str,
    title: str,
    summary: str,
    content: str,
    published: datetime | None,
    language: str | None,
    markup: bool = True,
) -> FeedEntry | None:
    """One record, shaped as the feedparser path shapes it (see feeds._entry)."""
    if markup:
        title, summary, content = html_to_text(title), html_to_text(summary), html_to_text(content)
    if not summary:  # as feedparser: an entry's only text is its summary
        summary, content = content, ""
    absolute, guid = _mark(base, link, guid)
    if content == summary:
        content = ""
    absolute = absolute or FeedEntry.linkless_url(base, guid, title, summary, content, published) or ""
    if not absolute:
        return None
    return FeedEntry(absolute, guid or absolute, title, summary, content, published, language)


def _mark(base: str, link: str, guid: str) -> tuple[str, str]:
    """An item's link (absolute; its GUID when that is a URL and the link is none) and GUID (its
    link when it has none), as its entry has them."""
    absolute = urljoin(base, link) if link else ""
    if not absolute.startswith(("http://", "https://")):
        absolute = guid if guid.startswith(("http://", "https://")) else ""
    return absolute, guid[:2000] or absolute
