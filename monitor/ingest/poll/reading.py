"""A fetched body to the entries to consider: a feed's, a listing page's, or a sitemap's with its
children's. Parsing runs in a thread, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from monitor.config.settings import SourceSettings
from monitor.errors import ParseError
from monitor.ingest.fetch.client import FetchResponse
from monitor.ingest.pages.listings import parse_listing
from monitor.ingest.parse.feeds import parse_feed
from monitor.ingest.parse.sitemaps import Sitemap, parse_sitemap
from monitor.ingest.poll.pipeline import Pipeline
from monitor.models import FeedEntry
from monitor.net.egress import EgressPolicy

SITEMAP_DEPTH = 2  # robots.txt -> sitemap index -> URL set
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PARSE_DEADLINE = 20.0
T = TypeVar("T")


async def read_entries(
    pipeline: Pipeline,
    source: SourceSettings,
    response: FetchResponse,
    now: datetime,
    seen: frozenset[bytes],
) -> tuple[list[FeedEntry], bytes, int, Sitemap | None]:
    """The entries to consider, the digests of the items read (see ParsedFeed), how many items
    the source listed (those skipped as unchanged included), and a sitemap whose children are
    still to read (its entries then come with them: see sitemap_entries)."""
    if source.kind == "html":
        entries = await bounded_parse(
            response.url, parse_listing, response.body, response.url, response.content_type, source.selectors
        )
        return entries, b"", len(entries), None
    if source.kind == "feed":
        body, url, headers = response.body, response.url, response.headers
        parsed = await bounded_parse(url, parse_feed, body, url, headers, now, seen)
        return parsed.entries, b"".join(parsed.digests), len(parsed.entries) + parsed.unchanged, None
    sitemap = await bounded_parse(response.url, parse_sitemap, response.body, response.url, now)
    return [], b"", 0, sitemap


async def sitemap_entries(
    pipeline: Pipeline, source: SourceSettings, sitemap: Sitemap, now: datetime, depth: int
) -> list[FeedEntry]:
    """A sitemap's entries and, `depth` levels down, its children's (robots.txt -> index -> set)."""
    entries = list(sitemap.entries)
    for child_url in sitemap.children if depth > 0 else []:
        async with pipeline.fetcher.fetched(
            child_url, policy=egress_policy(source), content=True, accept=FEED_ACCEPT
        ) as child:
            parsed = await bounded_parse(child.url, parse_sitemap, child.body, child.url, now)
        entries += await sitemap_entries(pipeline, source, parsed, now, depth - 1)
    return entries


async def bounded_parse(url: str, work: Callable[..., T], *args: Any) -> T:
    """CPU-heavy parsing off the event loop, abandoned after PARSE_DEADLINE seconds so that a
    pathological document cannot hold a source's poll (its thread runs on to its end)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work, *args), PARSE_DEADLINE)
    except TimeoutError:
        raise ParseError(url, f"parsing took longer than {PARSE_DEADLINE:g}s; abandoned") from None


def egress_policy(source: SourceSettings) -> EgressPolicy:
    """A source may reach its own origin, and anything if it allows private addresses."""
    return EgressPolicy.for_source(source.url, source.allow_private)
