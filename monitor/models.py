"""The records that flow between stages. Frozen dataclasses; datetimes are aware and in UTC."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

LINKLESS_FRAGMENT = "#entry-"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed or listing page, before it becomes an article.

    An entry without a link of its own (RSS 0.92 items, status feeds) still has text worth
    matching: its URL is the feed's with a `#entry-…` fragment naming it, and it has no page.
    """

    url: str
    guid: str
    title: str
    summary: str
    content: str
    published: datetime | None
    language: str | None = None
    shared_page: bool = False  # its link is several entries' (a live blog's, an archive page's)

    @property
    def has_page(self) -> bool:
        """Whether its link is a page of its own, to be read for its text."""
        return LINKLESS_FRAGMENT not in self.url and not self.shared_page

    @staticmethod
    def linkless_url(
        feed_url: str, guid: str, title: str, summary: str, content: str, published: datetime | None
    ) -> str | None:
        """The URL of an entry without a link: the feed's, plus a hash of what identifies it
        (its GUID, else its text, else its date); None for an entry with none of these."""
        text = f"{title}\n{summary}\n{content}".strip()
        identity = guid or text or (published.isoformat() if published else "")
        if not identity:
            return None
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        return f"{feed_url.split('#', 1)[0]}{LINKLESS_FRAGMENT}{digest}"


class Hit(NamedTuple):
    """One occurrence of a watch rule's term in an article. (A tuple: the matcher makes many.)"""

    rule: str
    term: str
    field: str
    start: int
    end: int
    snippet: str


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article. `teaser` is the feed's own text, `summary` ours (why it matched)."""

    id: str
    url: str
    guid: str
    source: str
    title: str
    teaser: str
    text: str
    summary: str
    published: datetime
    fetched: datetime
    language: str | None
    story: str
    hits: tuple[Hit, ...] = ()
    fingerprint: tuple[int, ...] | None = None  # near-duplicate MinHash (monitor/near_duplicates.py)
    content_hash: str = ""  # of the feed entry's text: a change means the article was updated
    revised: datetime | None = None  # when a new version replaced the stored one; None: never
    # The normalized title and body for the full-text index, when the pipeline already has them
    # (the matcher tokenized them); else the archive tokenizes. Not stored as such.
    index_text: tuple[str, str] | None = field(default=None, compare=False, repr=False)

    @property
    def rules(self) -> list[str]:
        return sorted({hit.rule for hit in self.hits})


@dataclass(frozen=True, slots=True)
class ArchivedArticle:
    """An article as the archive returns it: with its copies from other sources."""

    article: Article
    also_reported_by: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class PollResult(StrEnum):
    """How a poll of a source ended."""

    OK = "ok"  # the body was read
    UNCHANGED = "unchanged"  # the same body as last time: nothing parsed
    NOT_MODIFIED = "not modified"  # 304 to a conditional GET
    ERROR = "error"  # the source's fault: backed off
    GONE = "gone"  # 410: polling stopped
    # A fault of the monitor (a bug, a missing module), not of the source: shown apart so that
    # it never reads as the source's error.
    INTERNAL_ERROR = "internal error"
    ARCHIVE_ERROR = "archive error"  # the archive could not be read or written (disk full, damage)


@dataclass(frozen=True, slots=True)
class PollStatus:
    """A poll's result with its detail ("ok (200)", "unchanged (same body)"), as the archive
    keeps it in one text column."""

    result: PollResult
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.result} ({self.detail})" if self.detail else str(self.result)

    @classmethod
    def parse(cls, text: str) -> PollStatus:
        """The stored text read back; a text no version wrote (a hand-edited archive) is shown
        as an error with that text as its detail, never a crash."""
        result, _, detail = text.partition(" (")
        try:
            return cls(PollResult(result), detail.removesuffix(")"))
        except ValueError:
            return cls(PollResult.ERROR, text)


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's schedule and health as the archive keeps it."""

    name: str
    url: str
    next_due: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_fetch: datetime | None = None
    last_status: PollStatus | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    failing_since: datetime | None = None
    moved_to: str | None = None
    body_hash: str | None = None
    last_full_fetch: datetime | None = None
    interval: timedelta | None = None  # the adaptive poll interval, when the source adapts
    entry_digests: bytes = b""  # of the feed's items at the last read (see ingest.parse.entries.ParsedFeed)
    boilerplate: bytes = (
        b""  # hashed shingles the source repeats across its items (see monitor.near_duplicates)
    )
    claimed_at: datetime | None = None  # a daemon's poll of it started then (lease: next_due)

    def polling_since(self, now: datetime) -> datetime | None:
        """When the poll running now began; None when none is (its lease lapsed: its daemon died)."""
        if self.claimed_at is None or self.next_due is None or self.next_due <= now:
            return None
        return self.claimed_at

    @property
    def fetch_url(self) -> str:
        return self.moved_to or self.url


class AlertState(StrEnum):
    PENDING = "pending"
    HELD = "held"  # quiet hours or throttle: waits for a digest at next_attempt
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One outbox row: an alert of one story to one channel."""

    id: str
    alert: str
    channel: str
    story: str
    article_id: str
    rules: tuple[str, ...]
    state: AlertState
    attempts: int
    created: datetime
    next_attempt: datetime | None
    last_error: str | None
    sent: datetime | None
