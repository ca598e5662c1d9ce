"""The archive: sources' schedule state, articles, hits, and the alert outbox.

`Archive` and `Outbox` are the port, named by use case; `SqlArchive` (sql.py) the SQLAlchemy
Core adapter, picked by backends.py. Every method may be called from any thread. Every
failure of the database (locked, full, damaged, unreachable) is raised as ArchiveError with
the operation named, never as a driver exception; "one transaction" means all or nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
    # Only what comes after this article (its publication time and id) in the search's order:
    # the next page, unmoved by articles stored since (a newer one comes before it).
    after: tuple[datetime, str] | None = None


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
    # The source's entry hashes among those asked, each with the publication and fetch times and
    # the URLs of the articles stored from it.
    contents: dict[str, list[tuple[datetime, datetime, str]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mentions:
    """How many articles a rule matched on one day of publication (UTC), of one source or
    language when counted by them (`key`)."""

    day: date
    rule: str
    key: str | None
    count: int


class Stats(Protocol):
    """Counts of what the rules matched (stats_sql.py)."""

    def rule_matches(
        self, rules: Sequence[str], since: Sequence[datetime], until: datetime
    ) -> dict[str, list[int]]:
        """Per rule of `rules` that matched any: how many articles published since each moment,
        and not after `until` (now: a date ahead is no match of the last day), it matched (an
        article once, however many of its terms were hit). Here and wherever hits are read by
        rule, a rule's hits under another spelling of its name are its own (rule_names.py)."""
        ...

    def alert_states(self) -> dict[str, int]:
        """How many alert rows are in each state (pending, held, sent, failed); absent: none."""
        ...

    def failing_sources(self, names: Sequence[str]) -> int:
        """How many of the sources of `names` failed their last poll."""
        ...

    def source_activity(
        self, since: datetime, until: datetime, names: Sequence[str]
    ) -> dict[str, tuple[datetime, int]]:
        """Per source of `names` with any article: when its newest article arrived, and how many
        of its articles were published from `since` to `until`."""
        ...

    def mentions(
        self,
        rules: Sequence[str],
        since: datetime,
        until: datetime,
        by: str | None,
        most_lines: int | None = None,
    ) -> list[Mentions]:
        """Articles each rule matched per day of publication in [since, until), by "source" or
        "language" when `by` names one; days without any are left out; oldest first. With
        `most_lines`, the reading stops once more (rule, key) pairs than that are found: what
        comes back holds more, and the caller refuses it."""
        ...


class Outbox(Protocol):
    """The alert outbox: rows written with their articles (Archive.store_new), then claimed,
    sent, held for a digest, retried or dead-lettered by the dispatcher."""

    def claim_alerts(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        names: Sequence[str],
        state: AlertState = AlertState.PENDING,
        claimer: str = "once",
        channels: Sequence[str] | None = None,
    ) -> list[AlertRecord]:
        """Up to `limit` rows of the named alerts in `state` whose next attempt has come and
        that no one holds, oldest first, each claimed by `claimer` until `lease_until`; none
        taken by two claimers at once. With `channels`, only rows to those channels (daemons
        sharing an archive leave each other the channels they lack). One transaction."""
        ...

    def release_alert_claims(self, claimer: str) -> int:
        """End every claim `claimer` holds (a daemon starting after one killed mid-send); how
        many. One transaction."""
        ...

    def renew_alert_claims(self, ids: Sequence[str], held_until: datetime, new_until: datetime) -> set[str]:
        """Extend to `new_until` the claims still held until `held_until`; the ids renewed (a
        missing one was claimed again by someone else and must not be sent). One transaction."""
        ...

    def hold_alerts(self, ids: Sequence[str], until: datetime) -> None:
        """Hold these pending rows for the digest at `until`, ending their claims."""
        ...

    def postpone_alerts(self, ids: Sequence[str], until: datetime) -> None:
        """Leave these pending rows for `until` (their channel paused): no attempt counted, the
        claims ended."""
        ...

    def bring_forward_held(self, alert: str, until: datetime) -> int:
        """Make the alert's held rows due at `until` at the latest; how many moved."""
        ...

    def stories_sent(self, alert: str, since: datetime) -> int:
        """How many distinct stories the alert sent since `since`, over all its channels."""
        ...

    def mark_alerts_sent(self, ids: Sequence[str], now: datetime) -> None:
        """The rows went out: sent at `now`, each attempt counted, the claims ended. One
        transaction: a digest's rows are marked together or not at all (a process killed
        midway leaves the same rows to send again, so the same message and key)."""
        ...

    def mark_alerts_failed(
        self,
        retries: Mapping[str, datetime | None],
        error: str,
        now: datetime,
        retry_state: AlertState = AlertState.PENDING,
    ) -> None:
        """A failed attempt of each row (id: when to try again): retried then in `retry_state`,
        or dead-lettered (failed) without a time; the error kept (first 2,000 characters), the
        claims ended. One transaction, like mark_alerts_sent."""
        ...

    def retry_alerts(self, ids: Sequence[str], failed: bool, now: datetime) -> int:
        """Make these rows (and with `failed` every dead-lettered one) pending again, due now,
        the failed ones' attempts reset; sent rows, and held ones (their digest, throttle or
        quiet hours decide when they go), are left alone. How many. One transaction."""
        ...

    def missing_alerts(self, ids: Sequence[str]) -> list[str]:
        """The ids, in the order given, that no row has."""
        ...

    def alerts(
        self, limit: int, state: AlertState | None = None, before: tuple[datetime, str] | None = None
    ) -> list[AlertRecord]:
        """The `limit` newest rows (of `state`, when given), newest first (by creation, then
        id), those before `before` (the creation and id of the last row of a page) when given."""
        ...


@dataclass(frozen=True, slots=True)
class HostTurn:
    """One of a host's `per_host` request slots, held for a process until released or until
    `held_until` (the database's clock), and when its request may start, keeping the host's gap
    after the request started before it: `start`, on time.monotonic()'s clock (the event loop's),
    fixed when the database answered, not when the caller got round to reading the answer."""

    host: str
    slot: int
    held_until: datetime
    start: float


class HostTurns(Protocol):
    """Per-host politeness shared by every daemon of an archive (HostGate's shared part)."""

    def take(self, host: str, per_host: int, gap: timedelta, hold: timedelta) -> HostTurn | None:
        """A free slot of the host's `per_host`, held for `hold`, with its start after the
        host's gap reserved; None when all are held. ArchiveError when the database fails."""
        ...

    def release(self, turn: HostTurn) -> None:
        """Free the slot, unless its hold lapsed and another process took it since. Never raises."""
        ...


class JobHold(Protocol):
    """A job taken by one process of those sharing an archive (Archive.hold_job)."""

    def release(self) -> None:
        """Let the job go; another process may take it from now. Never raises."""
        ...


class Archive(Protocol):
    @property
    def outbox(self) -> Outbox:
        """The alert outbox, in the same database: an article and its rows commit together."""
        ...

    @property
    def stats(self) -> Stats:
        """Counts of the rules' matches over time."""
        ...

    @property
    def host_turns(self) -> HostTurns | None:
        """Per-host politeness across the daemons sharing the archive; None where one daemon
        writes it (its own HostGate is the whole of it)."""
        ...

    @property
    def shared(self) -> bool:
        """Whether several daemons may use the archive at once (PostgreSQL); on one only a
        single daemon writes (SQLite: the daemon lock), a starting daemon may take over every
        claim (release_claims, Outbox.release_alert_claims). Shared, a stopped daemon's claims
        lapse with their leases instead."""
        ...

    def hold_job(self, name: str) -> JobHold | None:
        """Take the job `name` (a digest, retention) for this process until the hold is
        released, or None when another process sharing the archive holds it: a job that must
        run once runs on one daemon at a time. Held by the database session, so a daemon that
        dies lets go of it. On an archive only one daemon writes, always granted."""
        ...

    def sync_sources(self, sources: Sequence[tuple[str, str]], now: datetime) -> None:
        """Make the configured (name, URL) sources known: a new one is due at `now`; one whose
        URL changed starts afresh (validators, errors, learned state forgotten). One transaction."""
        ...

    def bring_forward(self, latest: Mapping[str, timedelta]) -> list[str]:
        """Each named source polled without error, unclaimed, whose next poll is later than its
        last poll plus its `latest` gap, due at that instead (its interval was shortened in the
        config since); the names brought forward."""
        ...

    def claim_due_sources(
        self, now: datetime, lease_until: datetime, limit: int, names: Sequence[str]
    ) -> list[str]:
        """Up to `limit` of the named sources due at `now`, most overdue first, each claimed
        (next due at `lease_until`) so that no other poller takes it; none given twice."""
        ...

    def renew_claims(self, names: Sequence[str], claimed_at: datetime, until: datetime) -> set[str]:
        """Extend to `until` the leases of the named sources claimed at `claimed_at` whose polls
        are still running; the names renewed (a lease that lapsed and was claimed again is not
        this poller's any more). One transaction."""
        ...

    def release_claims(self, now: datetime) -> int:
        """Make every claimed source due at `now` (a daemon starting on an archive only it
        uses: the claims of one killed mid-poll are stale); how many."""
        ...

    def source_states(self) -> list[SourceState]:
        """Every known source's state, by name."""
        ...

    def source_states_of(self, names: Sequence[str]) -> dict[str, SourceState]:
        """The states of these sources, by name; unknown names are left out."""
        ...

    def record_fetch(self, name: str, outcome: FetchOutcome) -> None:
        """What one poll did to its source's schedule state (see FetchOutcome)."""
        ...

    def record_fetches(self, outcomes: Sequence[tuple[str, FetchOutcome]]) -> None:
        """As record_fetch, for many polls in one transaction."""
        ...

    def known_entries(
        self, source: str, ids: Sequence[str], guids: Sequence[str], contents: Sequence[str] = ()
    ) -> KnownEntries:
        """Which of a feed's entries are archived: by article id (any source), and by this
        source's GUIDs and entry hashes. One read."""
        ...

    def recent_texts(self, source: str, limit: int) -> list[tuple[str, str]]:
        """The title and text (the page's, else the feed's) of the source's `limit` articles
        stored last, newest first."""
        ...

    def store_new(self, new_articles: Sequence[Article], outbox: Sequence[OutboxRow]) -> set[str]:
        """Store the articles not archived yet with their hits, search index entries and alert
        rows, in one transaction; the ids stored (another poll may have stored one first). An
        article copying a recent one joins its story, and its rows name that story; a row for
        a story the alert already has is not written again."""
        ...

    def update(self, article: Article, outbox: Sequence[OutboxRow]) -> bool:
        """Replace an archived article's text, hits and index entries by a new version (same
        id), with alert rows only for rules it newly matches; False when it is not archived.
        One transaction."""
        ...

    def add_hits(
        self, article_id: str, new_hits: Sequence[Hit], outbox: Sequence[OutboxRow], now: datetime
    ) -> None:
        """Replace the hits of the rules named in `new_hits` on an archived article and write
        their alert rows (backfill); nothing when the article is gone. One transaction."""
        ...

    def article(self, article_id: str) -> ArchivedArticle | None:
        """The article with the other sources that carried its story; None when not archived."""
        ...

    def articles(self, article_ids: Sequence[str]) -> dict[str, ArchivedArticle]:
        """Those of the articles that are archived, by id, each as `article` gives it; one read
        for them all."""
        ...

    def respell_rules(self, configured: Sequence[str]) -> dict[str, str]:
        """The rules' names in the stored hits spelled as configured where they differ only in
        case or Unicode form (a rule renamed so keeps its matches); {old: new}."""
        ...

    def rule_arrivals(self, rule: str | None, limit: int) -> list[ArchivedArticle]:
        """Up to `limit` of the articles the watch rule (None: any rule) matched (its stored
        hits), those it matched last first, whatever their publication dates: what a subscriber
        to the rule has not seen yet (a story published days ago and translated today, a
        backfill's matches)."""
        ...

    def search(
        self,
        query: Node | None,
        filters: SearchFilters,
        time_limit: float | None = None,
        work_limit: float | None = None,
    ) -> list[ArchivedArticle]:
        """The articles the query matches exactly as the rules would, newest first (by
        publication), at most `filters.limit`; None matches every article. SearchTooSlow when
        it runs longer than `time_limit` seconds (None: no limit), or does more than
        `work_limit` seconds of work (time_limits.work_done: the searching thread's processor
        time, and its statements' time on PostgreSQL)."""
        ...

    def purge(self, now: datetime, unmatched_age: timedelta | None, matched_age: timedelta | None) -> int:
        """Delete articles fetched longer ago than their retention (None: kept forever), with
        their hits, index entries and alert rows; how many."""
        ...

    def damage(self) -> list[str]:
        """What the database's own integrity check finds wrong (empty: nothing)."""
        ...

    def answers(self) -> None:
        """ArchiveError unless the database answers a trivial read at once: through a
        connection that searches cannot all be holding (a health probe's question), or once a
        read or write of this process found the file damaged; ArchiveGone as still_open raises it."""
        ...

    def last_poll_end(self) -> datetime | None:
        """When any daemon on this archive last ended a poll of a source (None: none has), read
        as answers() reads."""
        ...

    def still_open(self) -> None:
        """ArchiveGone when what the archive opened is no longer there to write to: a SQLite
        file deleted, moved or replaced under the process (a PostgreSQL archive is a server's)."""
        ...

    def close(self) -> None:
        """Let go of every connection; the archive is not used after."""
        ...
