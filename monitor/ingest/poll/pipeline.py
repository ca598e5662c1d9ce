"""The parts every poll shares (archive, fetcher, matcher, settings, writes) and what a poll reports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.archive import Archive, OutboxRow
from monitor.archive.write_groups import ArchiveWrites
from monitor.config.settings import Settings
from monitor.ingest.fetch.client import Fetcher
from monitor.ingest.fetch.robots import RobotsCache
from monitor.ingest.summaries.summarizers import ExtractiveSummarizer, Summarizer
from monitor.models import Article, PollResult
from monitor.rules.automaton import Matcher

MAX_LISTING_PAGES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    status: PollResult
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
