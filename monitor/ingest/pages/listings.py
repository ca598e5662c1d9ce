"""News listing pages -> FeedEntry records.

With `selectors` (CSS, through bs4 on the lxml parser) the page says where items, links,
titles, summaries and dates are; without, links that look like articles on the same site are
taken (navigation is skipped), read from lxml's own tree: a page of 100,000 links costs bs4's
Python objects hundreds of megabytes, and lxml's tree a tenth of that.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import islice
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
from bs4 import BeautifulSoup, Tag

from monitor.config.settings import Selectors
from monitor.errors import ParseError
from monitor.ingest.parse.dates import parse_iso_date
from monitor.ingest.parse.markup import clean_text, decode_html
from monitor.models import FeedEntry

MAX_LINKS = 200
MAX_ANCHORS = 10_000  # links looked at on one page: a real front page has hundreds
# A date or a long number in the path, a page file, or a slug of four words or more.
_ARTICLE_PATH = re.compile(r"/(?:19|20)\d\d[/-]|\d{5,}|/[^/]*-[^/]*-[^/]*-[^/]+/?$|\.html?$")
_DATED_OR_NUMBERED = re.compile(r"/(?:19|20)\d\d[/-]\d\d?[/-]|\d{5,}")
# Paths of section fronts and lists, however slug-like: "/world/section/economy-and-markets-index".
_SECTION_FOLDER = re.compile(
    r"/(?:section|sections|category|categories|tag|tags|topic|topics|author|authors|page|archive|search)/",
    re.IGNORECASE,
)
# A section word ending the path; a dated or numbered path ending so ("/2019/11/18/.../index.html")
# is still an article.
_SECTION_END = re.compile(
    r"[-/](?:index|section|sections|category|topics|archive|latest|home)/?(?:\.html?)?$", re.I
)
_DATE_ARCHIVE = re.compile(r"/(?:19|20)\d\d(?:/\d\d?){0,2}/?(?:index\.html?)?$", re.IGNORECASE)
_CHROME = ("nav", "header", "footer", "aside", "form")


def parse_listing(body: bytes, url: str, content_type: str, selectors: Selectors | None) -> list[FeedEntry]:
    html = decode_html(body, content_type, url)
    if selectors is not None:
        return _with_selectors(BeautifulSoup(html, "lxml"), url, selectors)
    return _discovered(html, url)


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


def _discovered(html: str, url: str) -> list[FeedEntry]:
    """Same-site links whose path and text look like an article's, outside the page chrome."""
    host = urlsplit(url).hostname
    seen: set[str] = set()
    entries: list[FeedEntry] = []
    for anchor in islice(_tree(html).iter("a"), MAX_ANCHORS):
        href = anchor.get("href")
        if not href or not href.strip() or any(parent.tag in _CHROME for parent in anchor.iterancestors()):
            continue
        absolute = urljoin(url, href.strip()).split("#")[0]
        parts = urlsplit(absolute)
        title = clean_text(" ".join(anchor.itertext()))
        if parts.scheme not in ("http", "https") or parts.hostname != host or absolute in seen:
            continue
        if not looks_like_article_path(parts.path) or len(title) < 12:
            continue
        seen.add(absolute)
        entries.append(FeedEntry(absolute, absolute, title, "", "", None))
        if len(entries) >= MAX_LINKS:
            break
    return entries


def looks_like_article_path(path: str) -> bool:
    """A date, a long number, a page file or a long slug in the path, and no section word; not
    a date alone ("/2024/05/", "/news/2024/05/index.html": the month's archive)."""
    if not _ARTICLE_PATH.search(path) or _SECTION_FOLDER.search(path) or _DATE_ARCHIVE.search(path):
        return False
    return not _SECTION_END.search(path) or bool(_DATED_OR_NUMBERED.search(path))


def _tree(html: str) -> lxml.html.HtmlElement:
    """The page's element tree (an empty one for a page lxml cannot read at all)."""
    try:
        # Bytes, not text: lxml refuses text that carries an XML encoding declaration.
        parser = lxml.html.HTMLParser(encoding="utf-8")  # one per parse: parsers are not shared
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return lxml.html.Element("html")
