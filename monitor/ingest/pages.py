"""News listing pages -> FeedEntry records, with bs4 on the lxml parser.

With `selectors` (CSS) the page says where items, links, titles, summaries and dates are;
without, links that look like articles on the same site are taken (navigation is skipped).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from monitor.errors import ParseError
from monitor.ingest.dates import parse_iso_date
from monitor.ingest.markup import clean_text, decode_html
from monitor.models import FeedEntry
from monitor.settings import Selectors

MAX_LINKS = 200
# A date or a long number in the path, a page file, or a slug of four words or more.
_ARTICLE_PATH = re.compile(r"/(?:19|20)\d\d[/-]|\d{5,}|/[^/]*-[^/]*-[^/]*-[^/]+/?$|\.html?$")
# Paths of section fronts and lists, however slug-like: "/world/section/economy-and-markets-index".
_SECTION_PATH = re.compile(
    r"/(?:section|sections|category|categories|tag|tags|topic|topics|author|authors|page|archive|search)/"
    r"|[-/](?:index|section|sections|category|topics|archive|latest|home)/?(?:\.html?)?$",
    re.IGNORECASE,
)
_CHROME = ("nav", "header", "footer", "aside", "form")


def parse_listing(body: bytes, url: str, content_type: str, selectors: Selectors | None) -> list[FeedEntry]:
    soup = BeautifulSoup(decode_html(body, content_type, url), "lxml")
    if selectors is not None:
        return _with_selectors(soup, url, selectors)
    return _discovered(soup, url)


def _with_selectors(soup: BeautifulSoup, url: str, selectors: Selectors) -> list[FeedEntry]:
    try:
        items = soup.select(selectors.item)
    except Exception as error:  # soupsieve raises its own error type on a bad selector
        raise ParseError(url, f"bad CSS selector {selectors.item!r}: {error}") from error
    entries: list[FeedEntry] = []
    for item in items[:MAX_LINKS]:
        link = item if item.name == "a" else item.select_one(selectors.link)
        href = link.get("href") if link is not None else None
        if not isinstance(href, str) or not href.strip():
            continue
        absolute = urljoin(url, href.strip())
        if not absolute.startswith(("http://", "https://")):
            continue
        title = _text(item, selectors.title) or (link.get_text(" ", strip=True) if link else "")
        entries.append(
            FeedEntry(
                url=absolute,
                guid=absolute,
                title=clean_text(title),
                summary=clean_text(_text(item, selectors.summary)),
                content="",
                published=_date(item, selectors.date),
            )
        )
    return entries


def _text(item: Tag, selector: str | None) -> str:
    if not selector:
        return ""
    found = item.select_one(selector)
    return found.get_text(" ", strip=True) if found is not None else ""


def _date(item: Tag, selector: str | None) -> datetime | None:
    if not selector:
        return None
    found = item.select_one(selector)
    if found is None:
        return None
    value = found.get("datetime") or found.get("content") or found.get_text(strip=True)
    return parse_iso_date(str(value))


def _discovered(soup: BeautifulSoup, url: str) -> list[FeedEntry]:
    """Same-site links whose path and text look like an article's, outside the page chrome."""
    host = urlsplit(url).hostname
    seen: set[str] = set()
    entries: list[FeedEntry] = []
    for anchor in soup.find_all("a", href=True):
        if any(anchor.find_parent(name) for name in _CHROME):
            continue
        absolute = urljoin(url, str(anchor["href"]).strip()).split("#")[0]
        parts = urlsplit(absolute)
        title = clean_text(anchor.get_text(" ", strip=True))
        if parts.scheme not in ("http", "https") or parts.hostname != host or absolute in seen:
            continue
        if not _ARTICLE_PATH.search(parts.path) or _SECTION_PATH.search(parts.path) or len(title) < 12:
            continue
        seen.add(absolute)
        entries.append(FeedEntry(absolute, absolute, title, "", "", None))
        if len(entries) >= MAX_LINKS:
            break
    return entries
