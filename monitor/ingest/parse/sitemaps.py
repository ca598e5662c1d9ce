"""Sitemaps -> FeedEntry records: news sitemaps (news:title, publication date, language),
plain URL sets, sitemap indexes and robots.txt `Sitemap:` lines (whose children the pipeline
fetches)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import lxml.etree

from monitor.errors import ParseError
from monitor.ingest.parse.dates import parse_iso_date, plausible_date
from monitor.ingest.parse.declarations import strip_declarations
from monitor.ingest.parse.entries import feed_language
from monitor.models import FeedEntry

MAX_AGE = timedelta(days=2)
MAX_UNDATED = 100
MAX_CHILDREN = 5
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_ROBOTS_SITEMAP = re.compile(rb"^\s*sitemap\s*:\s*(https?://\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sitemap:
    entries: list[FeedEntry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


def parse_sitemap(body: bytes, url: str, now: datetime) -> Sitemap:
    """Recent entries of a URL set, or the newest child sitemaps of an index or a robots.txt."""
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        children = [found.decode("utf-8", "replace") for found in _ROBOTS_SITEMAP.findall(body)]
        if not children:
            raise ParseError(url, "not a sitemap, nor a robots.txt with Sitemap: lines")
        return Sitemap(children=children[:MAX_CHILDREN])
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = lxml.etree.fromstring(strip_declarations(body), parser)
    except lxml.etree.XMLSyntaxError as error:
        raise ParseError(url, f"not a readable sitemap: {error}") from error
    if root is None:
        raise ParseError(url, "not a readable sitemap: empty document")
    tag = lxml.etree.QName(root).localname
    if tag == "sitemapindex":
        children = sorted(
            ((_child_text(item, "lastmod"), _child_text(item, "loc")) for item in root),
            reverse=True,
        )
        return Sitemap(children=[loc for _, loc in children if loc][:MAX_CHILDREN])
    if tag != "urlset":
        raise ParseError(url, f"not a sitemap: the root element is <{tag}>")
    return Sitemap(entries=_recent(root, now))


def _recent(root: lxml.etree._Element, now: datetime) -> list[FeedEntry]:
    entries: list[FeedEntry] = []
    undated = 0
    for item in root:
        loc = _child_text(item, "loc")
        if not loc.startswith(("http://", "https://")):
            continue
        news = item.find(f"{_NEWS}news")
        title = _child_text(news, f"{_NEWS}title") if news is not None else ""
        stamp = _child_text(news, f"{_NEWS}publication_date") if news is not None else ""
        published = plausible_date(parse_iso_date(stamp or _child_text(item, "lastmod")), now)
        if published is None:
            undated += 1
            if undated > MAX_UNDATED:
                continue
        elif now - published > MAX_AGE:
            continue
        language = None
        if news is not None:
            language = feed_language(_child_text(news.find(f"{_NEWS}publication"), f"{_NEWS}language"))
        entries.append(FeedEntry(loc, loc, title, "", "", published, language))
    return entries


def _child_text(element: lxml.etree._Element | None, name: str) -> str:
    if element is None:
        return ""
    for child in element:
        if isinstance(child.tag, str) and (child.tag == name or lxml.etree.QName(child).localname == name):
            return (child.text or "").strip()
    return ""
