"""Article page -> main text, title, date and language, with trafilatura.

trafilatura reads the page's main text far better than hand-written heuristics (it scores
0.958 F1 on the extraction benchmark); its shapes stay in this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import lxml.html

from monitor.errors import ParseError
from monitor.ingest.parse.dates import parse_iso_date
from monitor.ingest.parse.entries import MAX_FIELD_CHARS
from monitor.ingest.parse.markup import clean_text, decode_html
from monitor.language_codes import macrolanguage

# The whole value: macrolanguage() tells a tag from what is none (lang="English", lang="utf-8").
_HTML_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([^\"'\s>]{1,40})", re.I)


@dataclass(frozen=True, slots=True)
class PageText:
    title: str
    text: str
    published: datetime | None
    language: str | None
    canonical_url: str | None
    # What the page says it is (og:type, JSON-LD @type): "article", "listing", or None if silent.
    declared_kind: str | None = None


# schema.org types of article pages and of list pages (section fronts, tag pages, search).
_ARTICLE_TYPES = re.compile(r"Article$|^(?:BlogPosting|LiveBlogPosting|Report|SocialMediaPosting)$")
_LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage"})
# Tags are found whole first ("<" ends one), then looked into: a pattern that looked for an
# attribute while finding the tag backtracked over every repetition of it (quadratic: minutes
# for a megabyte of one unclosed tag).
_META_TAG = re.compile(r"<meta\b[^<>]*>", re.IGNORECASE)
_SCRIPT_TAG = re.compile(r"<script\b[^<>]*>", re.IGNORECASE)
_SCRIPT_END = re.compile(r"</script", re.IGNORECASE)
_OG_TYPE = re.compile(r"""\bproperty\s*=\s*["']og:type["']""", re.IGNORECASE)
_CONTENT = re.compile(r"""\bcontent\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_LD_TYPES = re.compile(r'"@type"\s*:\s*(\[[^\]]*\]|"[^"]*")')


def declared_kind(html: str) -> str | None:
    """ "article" when the page's JSON-LD or og:type says it is one; "listing" when its JSON-LD
    says it is a collection (CollectionPage, ItemList, ...) and not an article; None otherwise.
    Only the types of the JSON-LD's own nodes count, not of what they list: a section front's
    ItemList names NewsArticle items. og:type "website" alone is no evidence: 3 of the 181 real
    article pages of the extraction benchmark say so and name no article type."""
    types = {_type_name(name) for block in _json_ld_blocks(html) for name in _node_types(block)}
    if any(_ARTICLE_TYPES.search(name) for name in types):
        return "article"
    og = next((tag.group(0) for tag in _META_TAG.finditer(html) if _OG_TYPE.search(tag.group(0))), "")
    og_content = _CONTENT.search(og)
    og_type = og_content.group(1).strip().lower() if og_content else ""
    if og_type == "article":
        return "article"
    if types & _LISTING_TYPES:
        return "listing"
    return None


def _json_ld_blocks(html: str) -> Iterator[str]:
    """The text of each <script type="application/ld+json"> (which may hold "<" in strings)."""
    position = 0
    for tag in _SCRIPT_TAG.finditer(html):
        if tag.start() < position:
            continue
        end = _SCRIPT_END.search(html, tag.end())
        if end is None:  # nor will any later script be closed
            return
        position = end.end()
        if "application/ld+json" in tag.group(0).lower():
            yield html[tag.end() : end.start()]


def _node_types(block: str) -> list[str]:
    """The @type names of a JSON-LD block's top-level nodes (and of its @graph's); every @type
    in it when the block is not valid JSON, as many in the wild are not."""
    try:
        data = json.loads(block, strict=False)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return [name for found in _LD_TYPES.findall(block) for name in re.findall(r'"([^"]+)"', found)]
    nodes = data if isinstance(data, list) else [data]
    nodes += [node for item in list(nodes) if isinstance(item, dict) for node in _graph(item)]
    names: list[str] = []
    for node in nodes:
        kind = node.get("@type") if isinstance(node, dict) else None
        names += [kind] if isinstance(kind, str) else [name for name in kind or () if isinstance(name, str)]
    return names


def _graph(node: dict[str, object]) -> list[object]:
    graph = node.get("@graph")
    return graph if isinstance(graph, list) else []


def _type_name(name: str) -> str:
    """ "CollectionPage" for "https://schema.org/CollectionPage" and "schema:CollectionPage" too."""
    return re.split(r"[/:#]", name.strip())[-1]


MAX_EXTRACTED_HTML = 1024 * 1024
# The name ends the tag's name: <svg-icon> and <script-loader> are custom elements, not bloat.
_BLOAT = re.compile(r"<(script|style|noscript|svg|template)(?=[\s/>])", re.IGNORECASE)
_BLOAT_ENDS = {
    tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    for tag in ("script", "style", "noscript", "svg", "template")
}


def extract_page(body: bytes, url: str, content_type: str = "", metadata: bool = True) -> PageText:
    """The page's main content; empty text when trafilatura finds none.

    `metadata` (title, author, date, canonical URL) costs about as much as the text itself;
    the pipeline asks for it only when the feed entry lacks a title or a date. trafilatura's
    `fast` mode skips its fallback extractors: on the extraction benchmark it is faster and
    no worse (bench/extraction.py).
    """
    import trafilatura  # here, not at the top: ~40 MB that a daemon without full text never needs

    decoded = decode_html(body, content_type, url)
    kind = declared_kind(decoded)  # before the cut, which drops the JSON-LD with the scripts
    html = _within_bounds(decoded)
    del decoded
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=metadata,
            include_comments=False,
            include_tables=True,
            fast=True,
            date_extraction_params=_date_params(),
        )
    except Exception as error:  # trafilatura and lxml raise many kinds on broken pages
        raise ParseError(url, f"article extraction failed: {type(error).__name__}: {error}") from error
    lang = _HTML_LANG.search(body[:8192])
    language = macrolanguage(lang.group(1).decode("ascii", errors="replace")) if lang else None
    if document is None:
        return PageText(_page_title(html), "", None, language, None, kind)
    published = parse_iso_date(getattr(document, "date", None) or "")
    if metadata:  # not asked for, the page is not read again for its date
        published = _with_time_of_day(published, html)
    return PageText(
        title=clean_text(getattr(document, "title", None) or ""),
        # Cut as a feed's fields are: a 9 MiB page of text would otherwise be matched and
        # fingerprinted whole, a hundred megabytes of tokens.
        text=clean_text(getattr(document, "text", None) or "")[:MAX_FIELD_CHARS],
        published=published,
        language=macrolanguage(getattr(document, "language", None) or language),
        canonical_url=getattr(document, "url", None),
        declared_kind=kind,
    )


def _within_bounds(html: str) -> str:
    """The page, cut to MAX_EXTRACTED_HTML characters if longer: scripts, styles and inline
    pictures go first (the bloat of real pages), then the end. trafilatura needs twenty times a
    page's size while it reads it, and the text kept is MAX_FIELD_CHARS at most anyway."""
    if len(html) <= MAX_EXTRACTED_HTML:
        return html
    kept: list[str] = []
    unclosed: set[str] = set()
    size = position = 0
    # One pass, each element's end found by a search onwards: a page of unclosed openings costs
    # no more than one of closed ones. An unclosed one loses its opening tag only, not the rest.
    for opening in _BLOAT.finditer(html):
        if opening.start() < position:
            continue
        kept.append(html[position : opening.start()])
        size += opening.start() - position
        if size >= MAX_EXTRACTED_HTML:
            return "".join(kept)[:MAX_EXTRACTED_HTML]
        tag = opening.group(1).lower()
        close = None if tag in unclosed else _BLOAT_ENDS[tag].search(html, opening.end())
        if close is None:  # nor will any later one of this tag be: search no more
            unclosed.add(tag)
        position = close.end() if close else html.find(">", opening.end()) + 1 or len(html)
    kept.append(html[position : position + MAX_EXTRACTED_HTML - size])
    return "".join(kept)


# Where pages state their publication moment in full (Open Graph, schema.org, Dublin Core).
_PUBLISHED_AT = (
    '//meta[@property="article:published_time" or @name="article:published_time" '
    'or @itemprop="datePublished" or @name="pubdate" or @name="DC.date.issued"]/@content'
    ' | //time[@itemprop="datePublished"]/@datetime'
)


def _with_time_of_day(found: datetime | None, html: str) -> datetime | None:
    """The date htmldate found, or, when it has no time of day (midnight: from the page's
    address, or a format htmldate reads no further, such as `03:15:00.000Z`), the moment the
    page's metadata states, if it states one."""
    if found is not None and found.time() != datetime.min.time():
        return found
    try:
        stated = lxml.html.fromstring(html).xpath(_PUBLISHED_AT)
    except (ValueError, lxml.etree.ParserError):
        return found
    for value in stated:
        moment = parse_iso_date(str(value))
        if moment is not None and "T" in str(value):
            return moment
    return found


def _date_params() -> dict[str, object]:
    """trafilatura's own date settings, but keeping the time of day when the page gives one
    (its default format is the date alone: same-day stories from pages were misordered). The
    page's own metadata comes before a date in its address (/2026/12/05/...), which has no
    time of day; and the latest date taken is tomorrow's, since htmldate reads a date as its
    midnight: with today's, a page published this morning was past it, and the time dropped
    (plausible_date still refuses more than a day ahead; a Japanese outlet's day begins 9 h
    before UTC's)."""
    return {
        "original_date": True,
        "extensive_search": True,
        "deferred_url_extractor": True,
        "max_date": (datetime.now().astimezone() + timedelta(days=1)).strftime("%Y-%m-%d"),
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    }


def _page_title(html: str) -> str:
    try:
        found = lxml.html.fromstring(html).findtext(".//title")
    except (ValueError, lxml.etree.ParserError):
        return ""
    return clean_text(found or "")
