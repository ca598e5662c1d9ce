"""The archive: sources' schedule state, articles, hits, and the alert outbox.

`Archive` is the port, named by use case; `SqlArchive` the SQLAlchemy Core adapter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from monitor.models import AlertRecord, AlertState, ArchivedArticle, Article, Hit, PollStatus, SourceState
from monitor.rules import Node


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: datetime | None = None  # published
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    matched: bool = False
    language: str | None = None
    limit: int = 50
    fetched_since: datetime | None = None  # arrived in the archive


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An alert to write in the same transaction as its article. Its id follows from (alert,
    channel, story): one alert per story, and the Idempotency-Key of every retry."""

    alert: str
    channel: str
    story: str
    article_id: str
    rules: tuple[str, ...]

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.alert}\n{self.channel}\n{self.story}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one fetch of a source did to its schedule state."""

    when: datetime
    next_due: datetime | None  # None: stop polling (the source is gone)
    status: PollStatus
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # where a permanent redirect now points
    body_hash: str | None = None
    full_fetch: bool = False  # fetched without validators (see SourceState.last_full_fetch)
    interval: timedelta | None = None  # the adaptive interval to keep, when the source adapts
    entry_digests: bytes | None = None  # of the feed's items as read now, when it was read
    boilerplate: bytes | None = None  # the source's repeated shingles, when this poll taught them


@dataclass(frozen=True, slots=True)
class KnownEntries:
    """Which of a feed's entries the archive holds."""

    hashes: dict[str, str]  # article id -> the hash of the entry it was stored from
    guids: set[str]  # the source's GUIDs among those asked
    contents: set[str] = field(default_factory=set)  # the source's entry hashes among those asked


class Outbox(Protocol):
    """The alert outbox: rows written with their articles (Archive.store_new), then claimed,
    sent, held for a digest, retried or dead-lettered by the dispatcher."""

    def release_alert_claims(self, claimer: str) -> int: ...

    def renew_alert_claims(
        self, ids: Sequence[str], held_until: datetime, new_until: datetime
    ) -> set[str]: ...

    def claim_alerts(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        names: Sequence[str],
        state: AlertState = AlertState.PENDING,
        claimer: str = "once",
    ) -> list[AlertRecord]: ...

    def hold_alerts(self, ids: Sequence[str], until: datetime) -> None: ...

    def bring_forward_held(self, alert: str, until: datetime) -> int: ...

    def stories_sent(self, alert: str, since: datetime) -> int: ...

    def mark_alert_sent(self, alert_id: str, now: datetime) -> None: ...

    def mark_alert_failed(
        self,
        alert_id: str,
        error: str,
        next_attempt: datetime | None,
        now: datetime,
        retry_state: AlertState = AlertState.PENDING,
    ) -> None: ...

    def retry_alerts(self, ids: Sequence[str], failed: bool, now: datetime) -> int: ...

    def missing_alerts(self, ids: Sequence[str]) -> list[str]: ...

    def alerts(self, limit: int) -> list[AlertRecord]: ...


class Archive(Protocol):
    @property
    def outbox(self) -> Outbox: ...

    def sync_sources(self, sources: Sequence[tuple[str, str]], now: datetime) -> None: ...

    def claim_due_sources(
        self, now: datetime, lease_until: datetime, limit: int, names: Sequence[str]
    ) -> list[str]: ...

    def release_claims(self, now: datetime) -> int: ...

    def source_state(self, name: str) -> SourceState | None: ...

    def source_states(self) -> list[SourceState]: ...

    def source_states_of(self, names: Sequence[str]) -> dict[str, SourceState]: ...

    def record_fetch(self, name: str, outcome: FetchOutcome) -> None: ...

    def record_fetches(self, outcomes: Sequence[tuple[str, FetchOutcome]]) -> None: ...

    def store_new(self, new_articles: Sequence[Article], outbox: Sequence[OutboxRow]) -> set[str]: ...

    def known_entries(
        self, source: str, ids: Sequence[str], guids: Sequence[str], contents: Sequence[str] = ()
    ) -> KnownEntries: ...

    def recent_texts(self, source: str, limit: int) -> list[tuple[str, str]]:
        """The title and text (the page's, else the feed's) of the source's `limit` articles
        stored last, newest first."""
        ...

    def store(self, articles: Sequence[Article], outbox: Sequence[OutboxRow]) -> int: ...

    def update(self, article: Article, outbox: Sequence[OutboxRow]) -> bool: ...

    def add_hits(
        self, article_id: str, new_hits: Sequence[Hit], outbox: Sequence[OutboxRow], now: datetime
    ) -> None: ...

    def article(self, article_id: str) -> ArchivedArticle | None: ...

    def search(self, query: Node | None, filters: SearchFilters) -> list[ArchivedArticle]: ...

    def purge(self, now: datetime, unmatched_age: timedelta | None, matched_age: timedelta | None) -> int: ...

    def close(self) -> None: ...
