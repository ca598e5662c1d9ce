"""Feed discovery for `monitor sources add URL`: from a homepage, the feeds it announces
(`<link rel="alternate">` with a feed type) and the feed-like links it shows, else the common
feed paths that answer with a feed. Fetches go through the Fetcher and its egress gate."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from monitor.errors import MonitorError
from monitor.ingest.fetch.client import Fetcher, FetchResponse
from monitor.ingest.parse.feeds import parse_feed
from monitor.ingest.parse.markup import clean_text, decode_html
from monitor.net.egress import EgressPolicy

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/rdf+xml": "RDF",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
}
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/posts/default")
_FEEDISH = ("rss", "atom", "feed")


@dataclass(frozen=True, slots=True)
class FoundFeed:
    url: str
    title: str
    how: str  # "the URL itself", "announced (RSS)", "linked", "common path"
    entries: int = 0


def announced_feeds(html: str, base_url: str) -> list[FoundFeed]:
    """Feeds a page announces in its head, then feed-looking links in its body, in page order."""
    soup = BeautifulSoup(html, "lxml")
    base = soup.find("base", href=True)
    base_url = urljoin(base_url, str(base["href"])) if base else base_url
    found: dict[str, FoundFeed] = {}
    for link in soup.find_all("link", href=True):
        rels = [str(value).lower() for value in link.get_attribute_list("rel") if value]
        kind = FEED_TYPES.get(str(link.get("type", "")).split(";")[0].strip().lower())
        if "alternate" in rels and kind:
            url = urljoin(base_url, str(link["href"]))
            found.setdefault(
                url, FoundFeed(url, clean_text(str(link.get("title", ""))), f"announced ({kind})")
            )
    for anchor in soup.find_all("a", href=True):
        url = urljoin(base_url, str(anchor["href"]))
        path = urlsplit(url).path.lower()
        if url.startswith(("http://", "https://")) and any(word in path for word in _FEEDISH):
            found.setdefault(url, FoundFeed(url, clean_text(anchor.get_text(" ")), "linked"))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class Discovery:
    feeds: list[FoundFeed]
    refused: list[str]  # candidates the egress gate refused (a non-public address), with why


async def discover(fetcher: Fetcher, url: str, policy: EgressPolicy) -> Discovery:
    """The feeds behind a URL, each checked to parse as a feed; the URL itself if it is one."""
    page = await fetcher.get(url, policy=policy)
    itself = _as_feed(page)
    if itself is not None:
        return Discovery([FoundFeed(page.url, itself[0], "the URL itself", itself[1])], [])
    candidates = announced_feeds(decode_html(page.body, page.content_type, page.url), page.url)
    if not candidates:
        root = f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}"
        candidates = [FoundFeed(root + path, "", "common path") for path in COMMON_PATHS]
    checked = await asyncio.gather(*(_check(fetcher, candidate, policy) for candidate in candidates))
    return Discovery(
        [feed for feed in checked if isinstance(feed, FoundFeed)],
        [refusal for refusal in checked if isinstance(refusal, str)],
    )


async def _check(fetcher: Fetcher, candidate: FoundFeed, policy: EgressPolicy) -> FoundFeed | str | None:
    """The candidate as a feed; or why the egress gate refused it; or None (not a feed)."""
    try:
        response = await fetcher.get(candidate.url, policy=policy, content=True)
    except MonitorError as error:
        return f"{candidate.url}: {error}" if "egress refused" in str(error) else None
    parsed = _as_feed(response)
    if parsed is None:
        return None
    # A link's text ("RSS", "Subscribe") names the feed worse than its own title does; an
    # announced feed's title attribute is the publisher's name for it.
    title = parsed[0] or candidate.title if candidate.how == "linked" else candidate.title or parsed[0]
    return FoundFeed(response.url, title, candidate.how, parsed[1])


def _as_feed(response: FetchResponse) -> tuple[str, int] | None:
    """The feed's title and entry count, or None when the body is not a feed."""
    try:
        parsed = parse_feed(response.body, response.url, response.headers, datetime.now(UTC))
    except MonitorError:
        return None
    if not parsed.entries and not parsed.title:
        return None
    return parsed.title, len(parsed.entries)
