"""The ingest pipeline: fetch -> parse -> normalize/dedupe -> full text -> match -> summarize ->
store with the alert outbox. Stage modules never import each other; only this one calls them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from monitor.archive import Archive, FetchOutcome, OutboxRow
from monitor.egress import EgressPolicy
from monitor.errors import ArchiveError, FetchError, MonitorError, ParseError
from monitor.ingest.dates import plausible_date
from monitor.ingest.entries import NO_DIGESTS, split_digests
from monitor.ingest.extract import PageText, extract_page
from monitor.ingest.feeds import parse_feed
from monitor.ingest.fetch import Fetcher, FetchResponse
from monitor.ingest.language import detect_language
from monitor.ingest.normalize import article_id, canonical_url, entry_hash
from monitor.ingest.pages import parse_listing
from monitor.ingest.policy import adapt_interval, next_poll, wants_full_fetch, wants_full_text
from monitor.ingest.records import ArchiveWrites
from monitor.ingest.robots import RobotsCache
from monitor.ingest.sitemaps import Sitemap, parse_sitemap
from monitor.ingest.summarizers import ExtractiveSummarizer, Summarizer
from monitor.models import INTERNAL_ERROR, Article, FeedEntry, SourceState
from monitor.near_duplicates import (
    LEARN_FROM,
    article_shingles,
    fingerprint_hashes,
    pack_shingles,
    remembered_boilerplate,
    repeated_shingles,
    unpack_shingles,
)
from monitor.rules import Matcher, MatchInput
from monitor.rules.text import index_fields, tokenize
from monitor.settings import Settings, SourceSettings

log = logging.getLogger(__name__)
SITEMAP_DEPTH = 2  # robots.txt -> sitemap index -> URL set
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
PARSE_DEADLINE = 20.0
MAX_LISTING_PAGES_KEPT = 10_000
ANALYSED_AT_ONCE = 32  # articles of one poll read, matched and held at once
LOT_CHARS = 1_000_000  # or fewer, whose feed text comes to this many characters
Work = tuple[str, str, FeedEntry, bool]  # article id, URL, entry, whether new (else updated)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    status: str
    entries: int = 0
    new: int = 0
    matched: int = 0
    error: str | None = None
    updated: int = 0  # archived articles whose feed entry changed


@dataclass(slots=True)
class Pipeline:
    archive: Archive
    fetcher: Fetcher
    matcher: Matcher
    settings: Settings
    outbox_for: Callable[[Article], list[OutboxRow]]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    robots: RobotsCache = field(default_factory=RobotsCache)
    summarizer: Summarizer = field(default_factory=ExtractiveSummarizer)
    writes: ArchiveWrites = field(init=False)
    _in_flight: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(init=False)
    # Links a listing page offered as articles whose pages said they are lists: not fetched again
    # while the daemon runs (the oldest forgotten past MAX_LISTING_PAGES_KEPT).
    listing_pages: dict[str, None] = field(init=False)

    def __post_init__(self) -> None:
        self.writes = ArchiveWrites(self.archive)
        self._in_flight = {}
        self.listing_pages = {}

    def remember_listing_page(self, url: str) -> None:
        self.listing_pages[url] = None
        if len(self.listing_pages) > MAX_LISTING_PAGES_KEPT:
            del self.listing_pages[next(iter(self.listing_pages))]

    def in_flight(self) -> asyncio.Semaphore:
        """Polls between their fetch and their store hold bodies, entries and articles: twice as
        many as fetch at once keeps the fetcher busy while memory stays bounded whatever the
        number of due sources (the writer is the slower stage when a pass finds much news)."""
        loop = asyncio.get_running_loop()
        if loop not in self._in_flight:
            self._in_flight = {loop: asyncio.Semaphore(2 * self.settings.fetch.concurrency)}
        return self._in_flight[loop]


async def ingest_source(
    pipeline: Pipeline, source: SourceSettings, state: SourceState | None
) -> SourceReport:
    """One poll of one source, from its stored state (None: never polled). Never raises for the
    source's own faults: they are recorded."""
    async with pipeline.in_flight(), AsyncExitStack() as poll_scope:
        try:
            return await _poll(pipeline, source, state, poll_scope)
        except ArchiveError:
            raise  # the archive's trouble, not the source's: the poll is retried (runtime/scheduler)
        except Exception as error:  # a bug or a missing module: ours, and it must not pass for the source's
            return await _internal_failure(pipeline, source, state, error)


async def _internal_failure(
    pipeline: Pipeline, source: SourceSettings, state: SourceState | None, error: Exception
) -> SourceReport:
    """Record a poll that failed by a fault of the monitor under its own status, so that
    `monitor sources` and the pass summary say so instead of blaming the source."""
    log.exception("polling %r failed by a fault of the monitor, not of the source", source.name)
    now = pipeline.clock()
    errors = (state.consecutive_errors if state else 0) + 1
    message = f"a fault of the monitor, not of the source (see the log): {type(error).__name__}: {error}"
    interval = pipeline.settings.interval(source)
    await _record(
        pipeline, source, FetchOutcome(now, next_poll(now, interval, errors), INTERNAL_ERROR, message)
    )
    return SourceReport(source.name, INTERNAL_ERROR, error=message)


async def _poll(
    pipeline: Pipeline, source: SourceSettings, state: SourceState | None, poll_scope: AsyncExitStack
) -> SourceReport:
    """One poll; a large body's turn, when it takes one, is kept by `poll_scope` (see Fetcher)."""
    now = pipeline.clock()
    interval = (state.interval if state and source.adaptive else None) or pipeline.settings.interval(source)
    full = wants_full_fetch(now, state.last_full_fetch if state else None)
    try:
        async with pipeline.fetcher.fetched(
            state.fetch_url if state else source.url,
            policy=_policy(source),
            etag=None if full or not state else state.etag,
            last_modified=None if full or not state else state.last_modified,
            accept=HTML_ACCEPT if source.kind == "html" else FEED_ACCEPT,
            poll_scope=poll_scope,
        ) as response:
            if response.not_modified:
                interval = _adapted(pipeline, source, interval, 0)
                outcome = FetchOutcome(now, next_poll(now, interval, 0), "not modified", interval=interval)
                await _record(pipeline, source, outcome)
                return SourceReport(source.name, "not modified")
            body_hash = hashlib.sha256(response.body).hexdigest()
            digests: bytes | None = None
            entries: list[FeedEntry] | None = None
            sitemap: Sitemap | None = None
            read = 0
            if state and body_hash == state.body_hash:
                status = "unchanged (same body)"
            else:
                status = f"ok ({response.status})"
                seen = split_digests(state.entry_digests) if state else NO_DIGESTS
                entries, digests, read, sitemap = await _read_entries(pipeline, source, response, now, seen)
        # The body is parsed: let it go, for what follows may fetch (child sitemaps, pages) and
        # runs long, and a large body would be held by nothing but this name.
        response = replace(response, body=b"")
        new = updated = matched = 0
        boilerplate = None
        if sitemap is not None:
            entries = await _sitemap_entries(pipeline, source, sitemap, now, SITEMAP_DEPTH)
            read = len(entries)
        if entries is not None:
            known = unpack_shingles(state.boilerplate) if state else frozenset()
            new, updated, matched, boilerplate = await _store_new(pipeline, source, entries, now, known)
    except ArchiveError:
        raise  # the archive's trouble, not the source's: the poll is retried (runtime/scheduler)
    except MonitorError as error:
        await _record(pipeline, source, _failure(error, now, interval, state))
        log.warning("source %r failed: %s", source.name, error)
        return SourceReport(source.name, "error", error=str(error))
    if response.permanent_redirect:
        log.info("source %r moved permanently to %s", source.name, response.permanent_redirect)
    interval = _adapted(pipeline, source, interval, new + updated)
    outcome = FetchOutcome(
        now,
        next_poll(now, interval, 0),
        status,
        etag=response.etag,
        last_modified=response.last_modified,
        moved_to=response.permanent_redirect,
        body_hash=body_hash,
        full_fetch=full,
        interval=interval if source.adaptive else None,
        entry_digests=digests,
        boilerplate=boilerplate,
    )
    await _record(pipeline, source, outcome)
    return SourceReport(source.name, status.split(" (")[0], read, new, matched, updated=updated)


def _adapted(pipeline: Pipeline, source: SourceSettings, current: timedelta, new: int) -> timedelta:
    if not source.adaptive:
        return current
    base = pipeline.settings.interval(source)
    return adapt_interval(current, new, source.min_every or base, source.max_every or base)


def _failure(
    error: MonitorError, now: datetime, interval: timedelta, state: SourceState | None
) -> FetchOutcome:
    """A failed poll: back off; honour Retry-After; stop polling a source that is gone (410)."""
    if isinstance(error, FetchError) and error.status == 410:
        message = f"{error}: the source is gone, polling stopped (edit its URL to resume)"
        return FetchOutcome(now, None, "gone", error=message)
    errors = (state.consecutive_errors if state else 0) + 1
    next_due = next_poll(now, interval, errors)
    if isinstance(error, FetchError) and error.retry_after is not None:
        next_due = max(next_due, now + timedelta(seconds=error.retry_after))
    return FetchOutcome(now, next_due, "error", error=str(error))


async def _bounded(url: str, work: Callable[..., T], *args: Any) -> T:
    """CPU-heavy parsing off the event loop, abandoned after PARSE_DEADLINE seconds so that a
    pathological document cannot hold a source's poll (its thread runs on to its end)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work, *args), PARSE_DEADLINE)
    except TimeoutError:
        raise ParseError(url, f"parsing took longer than {PARSE_DEADLINE:g}s; abandoned") from None


def _policy(source: SourceSettings) -> EgressPolicy:
    """A source may reach its own origin, and anything if it allows private addresses."""
    return EgressPolicy.for_source(source.url, source.allow_private)


async def _record(pipeline: Pipeline, source: SourceSettings, outcome: FetchOutcome) -> None:
    await pipeline.writes.record(source.name, outcome)


async def _read_entries(
    pipeline: Pipeline,
    source: SourceSettings,
    response: FetchResponse,
    now: datetime,
    seen: frozenset[bytes],
) -> tuple[list[FeedEntry], bytes, int, Sitemap | None]:
    """The entries to consider, the digests of the items read (see ParsedFeed), how many items
    the source listed (those skipped as unchanged included), and a sitemap whose children are
    still to read (its entries then come with them: see _sitemap_entries)."""
    if source.kind == "html":
        entries = await _bounded(
            response.url, parse_listing, response.body, response.url, response.content_type, source.selectors
        )
        return entries, b"", len(entries), None
    if source.kind == "feed":
        body, url, headers = response.body, response.url, response.headers
        parsed = await _bounded(url, parse_feed, body, url, headers, now, seen)
        return parsed.entries, b"".join(parsed.digests), len(parsed.entries) + parsed.unchanged, None
    sitemap = await _bounded(response.url, parse_sitemap, response.body, response.url, now)
    return [], b"", 0, sitemap


async def _sitemap_entries(
    pipeline: Pipeline, source: SourceSettings, sitemap: Sitemap, now: datetime, depth: int
) -> list[FeedEntry]:
    """A sitemap's entries and, `depth` levels down, its children's (robots.txt -> index -> set)."""
    entries = list(sitemap.entries)
    for child_url in sitemap.children if depth > 0 else []:
        async with pipeline.fetcher.fetched(
            child_url, policy=_policy(source), content=True, accept=FEED_ACCEPT
        ) as child:
            parsed = await _bounded(child.url, parse_sitemap, child.body, child.url, now)
        entries += await _sitemap_entries(pipeline, source, parsed, now, depth - 1)
    return entries


async def _store_new(
    pipeline: Pipeline,
    source: SourceSettings,
    entries: Sequence[FeedEntry],
    now: datetime,
    boilerplate: frozenset[int],
) -> tuple[int, int, int, bytes | None]:
    """Store the entries not yet archived, and new versions of this source's archived ones whose
    feed text changed; returns how many were stored, how many updated, how many of those
    matched, and the source's boilerplate shingles when these articles taught new ones (see
    monitor.near_duplicates), fingerprinted without."""
    by_id: dict[str, tuple[str, FeedEntry]] = {}
    for entry in entries:
        url = canonical_url(entry.url)
        by_id.setdefault(article_id(url), (url, entry))
    guids = [entry.guid for _, entry in by_id.values()]
    contents = {key: entry_hash(entry) for key, (_, entry) in by_id.items()}
    # An entry whose link and GUID change on every fetch while its text stays is the same article
    # (only entries with a title and a text tell: a sitemap's entries are mostly bare links).
    texts = {key: content for key, content in contents.items() if _has_text(by_id[key][1])}
    archived = await asyncio.to_thread(
        pipeline.archive.known_entries, source.name, list(by_id), guids, list(texts.values())
    )
    known, seen_guids, seen_texts = archived.hashes, archived.guids, set(archived.contents)
    fresh = []
    for key, (url, entry) in by_id.items():
        if key in known or entry.guid in seen_guids or texts.get(key) in seen_texts:
            continue
        if key in texts:
            seen_texts.add(texts[key])
        fresh.append((key, url, entry))
    changed = [
        (key, url, entry)
        for key, (url, entry) in by_id.items()
        if known.get(key) and entry.guid in seen_guids and known[key] != contents[key]
    ]
    work: list[Work] = [(key, url, entry, True) for key, url, entry in fresh]
    work += [(key, url, entry, False) for key, url, entry in changed]
    stored = changed_count = matched = 0
    learned: frozenset[int] = frozenset()
    # A few dozen articles at a time, each lot stored before the next is read: a feed of
    # thousands of new items (or pages) would otherwise be held in memory whole.
    for number, lot in enumerate(_lots(work)):
        results = await asyncio.gather(
            *(_article(pipeline, source, key, url, entry, now) for key, url, entry, _ in lot)
        )
        kept = [(found, is_new) for found, (*_, is_new) in zip(results, lot, strict=True) if found]
        if number == 0:  # the boilerplate is learned from the first lot, which is the newest
            remembered = boilerplate
            repeated = await _repeated(pipeline, source, [found for found, _ in kept])
            boilerplate = remembered_boilerplate(remembered, repeated)
            learned = boilerplate if boilerplate != remembered else frozenset()
        articles = [
            (replace(article, fingerprint=fingerprint_hashes(shingles - boilerplate)), is_new)
            for (article, shingles), is_new in kept
        ]
        lot_stored, lot_updated, lot_matched = await _write_lot(pipeline, articles)
        stored += lot_stored
        changed_count += lot_updated
        matched += lot_matched
    return stored, changed_count, matched, pack_shingles(learned) if learned else None


async def _write_lot(pipeline: Pipeline, articles: Sequence[tuple[Article, bool]]) -> tuple[int, int, int]:
    """Store a lot's new articles and update its changed ones (`True`: new); how many were
    stored, how many updated, and how many of those matched (another source's poll may have
    stored an article first: it is neither)."""
    new = [article for article, is_new in articles if is_new]
    outbox = [row for article in new for row in pipeline.outbox_for(article)]
    stored_ids = await pipeline.writes.store(new, outbox)
    matched = sum(1 for article in new if article.hits and article.id in stored_ids)
    updated = 0
    for article in (article for article, is_new in articles if not is_new):
        log.info("%s: updated (its feed entry changed)", article.url)
        if await asyncio.to_thread(pipeline.archive.update, article, pipeline.outbox_for(article)):
            updated += 1
            matched += bool(article.hits)
    return len(stored_ids), updated, matched


def _lots(work: list[Work]) -> Iterator[list[Work]]:
    """The work in lots of ANALYSED_AT_ONCE entries, or fewer whose feed text comes to
    LOT_CHARS: matching and hashing hold several times a text's size while they run."""
    lot: list[Work] = []
    size = 0
    for item in work:
        entry = item[2]
        lot.append(item)
        size += len(entry.title) + len(entry.summary) + len(entry.content)
        if len(lot) >= ANALYSED_AT_ONCE or size >= LOT_CHARS:
            yield lot
            lot, size = [], 0
    if lot:
        yield lot


async def _repeated(
    pipeline: Pipeline, source: SourceSettings, analysed: Sequence[tuple[Article, set[int]]]
) -> frozenset[int]:
    """The shingles repeated across a poll's newest articles, with the source's articles stored
    last when the poll brings fewer than LEARN_FROM: a feed bringing one item per poll teaches
    its boilerplate as well as one bringing thirty."""
    sample = [shingles for _, shingles in analysed]
    if 0 < len(sample) < LEARN_FROM:
        sample += await asyncio.to_thread(
            _stored_shingles, pipeline.archive, source, LEARN_FROM - len(sample)
        )
    return repeated_shingles(sample)


def _stored_shingles(archive: Archive, source: SourceSettings, limit: int) -> list[set[int]]:
    stored = archive.recent_texts(source.name, limit)
    return [article_shingles(tokenize(title).tokens, tokenize(text).tokens) for title, text in stored]


def _guessed_from_listing(source: SourceSettings) -> bool:
    return source.kind == "html" and source.selectors is None


def _has_text(entry: FeedEntry) -> bool:
    return bool(entry.title.strip() and (entry.summary.strip() or entry.content.strip()))


async def _article(
    pipeline: Pipeline,
    source: SourceSettings,
    key: str,
    url: str,
    entry: FeedEntry,
    now: datetime,
) -> tuple[Article, set[int]] | None:
    """The article an entry makes, with its hashed shingles (to fingerprint once the poll's
    boilerplate is known); None when a link a listing page was guessed to be an article turns
    out to be a list itself, by its page's own word (JSON-LD CollectionPage, ...)."""
    guessed = _guessed_from_listing(source)
    if guessed and url in pipeline.listing_pages:
        return None
    page = await _page(pipeline, source, entry)
    if page is not None and page.declared_kind == "listing" and guessed:
        log.info("%s: skipped, the page says it is a list of articles, not one", entry.url)
        pipeline.remember_listing_page(url)
        return None
    # Matching and hashing run in a worker thread: however long one article takes, the event
    # loop goes on polling, dispatching and answering signals.
    article, shingles = await asyncio.to_thread(
        _analysed, pipeline.matcher, source, key, url, entry, page, now
    )
    body_field = "text" if article.text else "summary"
    summary = await pipeline.summarizer.summarize(
        article.title, article.text or entry.summary, body_field, list(article.hits)
    )
    return replace(article, summary=summary), shingles


def _analysed(
    matcher: Matcher,
    source: SourceSettings,
    key: str,
    url: str,
    entry: FeedEntry,
    page: PageText | None,
    now: datetime,
) -> tuple[Article, set[int]]:
    """The article an entry (and its page) makes, matched, with its hashed shingles; summary and
    fingerprint to come."""
    title, text, published, language = entry.title, entry.content, entry.published, entry.language
    feed_text = entry.summary
    if page is not None:
        if page.text and entry.content and entry.content not in entry.summary:
            # The page's text replaces the feed's, but what the feed said still counts: a
            # Hebrew teaser over an English page holds terms the page does not.
            feed_text = f"{entry.summary}\n{entry.content}".strip()
        text = page.text or text
        title = title or page.title
        published = published or plausible_date(page.published, now)
        language = language or page.language
    language = source.language or language or detect_language(f"{title}\n{feed_text}\n{text}")
    document = MatchInput(title, feed_text, text, source.name, language)
    hits = matcher.match(document)
    body_field = "text" if text else "summary"
    title_tokens, teaser_tokens = document.field("title").tokens, document.field("summary").tokens
    body_tokens = document.field(body_field).tokens
    article = Article(
        id=key,
        url=url,
        guid=entry.guid,
        source=source.name,
        title=title,
        teaser=feed_text,
        text=text,
        summary="",
        published=published or now,
        fetched=now,
        language=language,
        story=key,
        hits=tuple(hits),
        content_hash=entry_hash(entry),
        index_text=index_fields(title_tokens, teaser_tokens, document.field("text").tokens),
    )
    return article, article_shingles(title_tokens, body_tokens)


async def _page(pipeline: Pipeline, source: SourceSettings, entry: FeedEntry) -> PageText | None:
    """The article page's extracted text, when the entry has only a teaser and the page may and
    can be read; None keeps the feed's own text (the reason is logged)."""
    if not entry.has_page:
        return None
    if not wants_full_text(pipeline.settings.full_text(source), entry.title, entry.summary, entry.content):
        return None
    policy = _policy(source)
    refusal = await pipeline.robots.refusal(pipeline.fetcher, entry.url, policy) if source.robots else None
    if refusal is not None:
        log.debug("%s: kept the feed text, %s", entry.url, refusal)
        return None
    metadata = not (entry.title and entry.published)  # the page's title or date is needed
    try:
        async with pipeline.fetcher.fetched(
            entry.url, policy=policy, content=True, accept=HTML_ACCEPT, types=PAGE_TYPES
        ) as response:
            page = await _bounded(
                response.url, extract_page, response.body, response.url, response.content_type, metadata
            )
    except MonitorError as error:
        log.info("%s: kept the feed text, the page could not be read: %s", entry.url, error)
        return None
    if not page.text:
        log.info("%s: kept the feed text, no main text found on the page", entry.url)
    return page
