"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> FeedEntry records.

feedparser reads only XML feeds, so JSON Feed is read here into the same records. The feed's
items are taken as the spec describes them; what is missing or of the wrong type is skipped,
never fatal, except a body that is not a JSON Feed at all.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from monitor.errors import ParseError
from monitor.ingest.parse.dates import parse_iso_date, plausible_date
from monitor.ingest.parse.entries import MAX_ENTRIES, MAX_FIELD_CHARS, feed_language
from monitor.ingest.parse.markup import clean_text, html_to_text
from monitor.models import FeedEntry

_JSON_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*\{")


def is_json_feed(body: bytes, content_type: str) -> bool:
    """A JSON body, by its type or its first character (no XML feed starts with "{"; the
    version key may come last or with escaped slashes, so it is not looked for here)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in ("application/feed+json", "application/json") or bool(_JSON_START.match(body[:64]))


def parse_json_feed(body: bytes, url: str, now: datetime) -> tuple[str, str | None, list[FeedEntry]]:
    """The feed's title, language and entries; ParseError when the body is not a JSON Feed."""
    try:
        document = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as error:
        raise ParseError(url, f"not a readable JSON Feed: {type(error).__name__}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ParseError(url, "not a JSON Feed: no items list")
    language = feed_language(_text(document.get("language")))
    entries = [
        entry
        for item in document["items"][:MAX_ENTRIES]
        if isinstance(item, dict) and (entry := _entry(item, url, language, now)) is not None
    ]
    return clean_text(_text(document.get("title"))), language, entries


# A JSON string may escape half a UTF-16 pair ("\ud800"), which no UTF-8 text can hold: the
# archive could not store the item, and the whole poll failed. U+FFFD, as XML feeds give.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> str:
    return _LONE_SURROGATE.sub("\ufffd", value[:MAX_FIELD_CHARS]) if isinstance(value, str) else ""


def _entry(item: dict[str, Any], feed_url: str, language: str | None, now: datetime) -> FeedEntry | None:
    link = _text(item.get("url")) or _text(item.get("external_url"))
    guid = _text(item.get("id")) or (str(item["id"]) if isinstance(item.get("id"), int) else "")
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    link = urljoin(feed_url, link.strip()) if link else ""
    content = html_to_text(_text(item.get("content_html"))) or clean_text(_text(item.get("content_text")))
    summary = clean_text(_text(item.get("summary")))
    title = clean_text(_text(item.get("title")))
    if not link.startswith(("http://", "https://")):
        link = FeedEntry.linkless_url(feed_url, guid, title, summary, content, None) or ""
        if not link:
            return None
    published = parse_iso_date(_text(item.get("date_published"))) or parse_iso_date(
        _text(item.get("date_modified"))
    )
    return FeedEntry(
        url=link,
        guid=guid[:2000] or link,
        title=title,
        summary=summary,
        content="" if content == summary else content,
        published=plausible_date(published, now),
        language=feed_language(_text(item.get("language"))) or language,
    )
