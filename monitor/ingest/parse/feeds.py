"""Feed bytes -> FeedEntry records, with feedparser (RSS 0.9x/1.0/2.0, Atom, RDF); JSON Feed
goes to jsonfeed.py.

feedparser never does HTTP here: it gets the bytes (as a file object: given bytes that look like
a path it would open the file) and the response headers. DOCTYPE and entity declarations are
removed first, since feedparser's loose fallback parser expands entity bombs.
"""

from __future__ import annotations

import calendar
import io
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.errors import ParseError
from monitor.ingest.parse.charsets import canonical, guess, is_utf8
from monitor.ingest.parse.dates import plausible_date
from monitor.ingest.parse.declarations import strip_declarations
from monitor.ingest.parse.entries import (
    MAX_ENTRIES,
    MAX_FIELD_CHARS,
    NO_DIGESTS,
    ParsedFeed,
    feed_language,
    with_shared_pages,
)
from monitor.ingest.parse.jsonfeed import is_json_feed, parse_json_feed
from monitor.ingest.parse.markup import clean_text, html_to_text
from monitor.ingest.parse.xmlfeeds import parse_well_formed
from monitor.models import FeedEntry

MAX_PERSON_CHARS = 500
_LONG_PERSON_FIELD = re.compile(
    rb"(<(?:author|managingEditor|webMaster|dc:creator|itunes:author|name|email)\b[^>]*>)"
    rb"([^<]{" + str(MAX_PERSON_CHARS).encode() + rb",})",
    re.IGNORECASE,
)
_DECLARED = re.compile(rb"\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ITEM_START = re.compile(rb"<(?:item|entry)[\s>]", re.IGNORECASE)


_FIRST_ELEMENT = re.compile(
    # Atomic groups: a comment once matched is not reopened, else a run of comments backtracks
    # exponentially (forty empty comments before a stray byte held the GIL for hours).
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?>(?><!--.*?-->)\s*|<!doctype[^>]*>\s*)*<([a-z][a-z0-9]*)",
    re.IGNORECASE | re.DOTALL,
)
_HTML_ELEMENTS = frozenset(
    {b"html", b"head", b"body", b"title", b"meta", b"script", b"div", b"p", b"h1", b"a"}
)


def as_utf8(body: bytes, headers: dict[str, str], url: str = "") -> tuple[bytes, str]:
    """The feed as UTF-8, and the content type to tell feedparser (without a charset then).

    The declared encoding (HTTP charset, else the XML declaration) is decoded with its superset
    (EUC-KR as CP949, ...), invalid bytes replaced; an undeclared feed, or one declared UTF-8
    that is not, by a guess (hinted by the URL's top-level domain). feedparser alone falls back
    to windows-1252 for the whole document when one byte is off, and stores mojibake.
    """
    content_type = headers.get("content-type", "application/xml")
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return body, content_type
    encoding = _declared_encoding(body, content_type)
    if encoding is None or encoding.replace("-", "").replace("_", "") == "utf8":
        if is_utf8(body):
            return body, content_type
        encoding = guess(body, url)  # UTF-8 still, when but a stray byte or two is not
    if encoding is None:
        return body, content_type
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:  # a label Python does not know: leave it to feedparser
        return body, content_type
    bare_type = content_type.split(";", 1)[0].strip() or "application/xml"
    return _XML_DECLARATION.sub("", text, count=1).encode("utf-8"), bare_type


def _declared_encoding(body: bytes, content_type: str) -> str | None:
    in_header = _CHARSET.search(content_type)
    if in_header:
        return canonical(in_header.group(1))
    in_prolog = _DECLARED.match(body[:512])
    return canonical(in_prolog.group(1).decode("ascii")) if in_prolog else None


def looks_like_html(body: bytes) -> bool:
    """Whether the body's first element is an HTML one (after a BOM, spaces, an XML declaration,
    comments and a doctype): a feed starts with <rss>, <feed> or <rdf:RDF>, never with these."""
    found = _FIRST_ELEMENT.match(body[:4096])
    return found is not None and found.group(1).lower() in _HTML_ELEMENTS


def defuse(body: bytes) -> bytes:
    """Make a body safe for feedparser: no DTD or entities (its loose parser expands entity
    bombs), short person fields (its e-mail regex is quadratic: a 64 KB author takes seconds),
    and no more items than we keep (a million-item feed would be parsed whole)."""
    body = _LONG_PERSON_FIELD.sub(lambda found: found.group(1) + found.group(2)[:MAX_PERSON_CHARS], body)
    return _cap_items(strip_declarations(body))


def _cap_items(body: bytes) -> bytes:
    starts = [found.start() for found in _ITEM_START.finditer(body)]
    if len(starts) <= MAX_ENTRIES:
        return body
    cut = starts[MAX_ENTRIES]
    closing = b"</feed>" if b"<feed" in body[:4096] else b"</channel></rss></rdf:RDF>"
    return body[:cut] + closing


def parse_feed(
    body: bytes, url: str, headers: dict[str, str], now: datetime, seen: frozenset[bytes] = NO_DIGESTS
) -> ParsedFeed:
    """Parse a feed (XML with lxml or, when it must, feedparser; JSON Feed ourselves), skipping
    the items whose digests are in `seen` where it can (see ParsedFeed); ParseError when the
    body is not a feed at all."""
    if is_json_feed(body, headers.get("content-type", "")):
        title, language, entries = parse_json_feed(body, url, now)
        return ParsedFeed(title, language, with_shared_pages(entries))
    if looks_like_html(body):  # whatever the header says: servers label error pages as feeds
        raise ParseError(url, "got an HTML page, not a feed")
    utf8, content_type = as_utf8(body, headers, url)
    fast = parse_well_formed(utf8, url, now, seen)
    if fast is not None:
        return fast
    return parse_with_feedparser(utf8, content_type, url, body, now)


def parse_with_feedparser(utf8: bytes, content_type: str, url: str, body: bytes, now: datetime) -> ParsedFeed:
    """The slow path, for whatever is not a well-formed RSS, RDF or Atom 1.0 feed."""
    try:
        parsed = feedparser.parse(
            io.BytesIO(defuse(utf8)),
            response_headers={"content-type": content_type, "content-location": url},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as error:  # feedparser raises instead of setting bozo on some inputs
        raise ParseError(url, f"feed parser failed: {type(error).__name__}: {error}") from error
    raw_entries = parsed.get("entries") or []
    if not raw_entries and parsed.get("bozo") and not parsed.get("feed"):
        reason = parsed.get("bozo_exception") or "unknown error"
        raise ParseError(url, f"not a readable feed: {reason}")
    if not raw_entries and not parsed.get("version"):
        raise ParseError(url, "not a feed: the body holds no RSS, Atom or RDF document")
    feed = parsed.get("feed") or {}
    language = feed_language(feed.get("language"))
    entries = [
        entry for raw in raw_entries[:MAX_ENTRIES] if (entry := _entry(raw, url, language, now)) is not None
    ]
    return ParsedFeed(clean_text(str(feed.get("title", ""))), language, with_shared_pages(entries))


def _entry(raw: Any, feed_url: str, language: str | None, now: datetime) -> FeedEntry | None:
    link = _link(raw, feed_url)
    guid = str(raw.get("id") or raw.get("guid") or link or "")[:2000]
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    title = html_to_text(_capped(raw.get("title")))
    summary = html_to_text(_capped(raw.get("summary")))
    contents = raw.get("content") or []
    content = html_to_text(_capped(contents[0].get("value"))) if contents else ""
    if content == summary:
        content = ""
    published = plausible_date(_entry_date(raw), now)
    link = link or FeedEntry.linkless_url(feed_url, guid, title, summary, content, published) or ""
    if not link:
        return None
    return FeedEntry(
        url=link,
        guid=guid or link,
        title=title,
        summary=summary,
        content=content,
        published=published,
        language=feed_language(raw.get("language")) or language,
    )


def _capped(value: Any) -> str:
    return str(value or "")[:MAX_FIELD_CHARS]


def _link(raw: Any, feed_url: str) -> str:
    candidates = [
        link.get("href", "") for link in raw.get("links") or [] if link.get("rel", "alternate") == "alternate"
    ]
    link = str(raw.get("link") or (candidates[0] if candidates else "")).strip()
    if not link:
        return ""
    absolute = urljoin(feed_url, link)
    return absolute if absolute.startswith(("http://", "https://")) else ""


def _entry_date(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get maps a missing updated_parsed to published_parsed, warning.
        value = dict.get(raw, key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
