"""The alert outbox: rows written with their article, sent later, marked sent or retried.

A crash between sending and marking can at worst resend a row, always with the same
Idempotency-Key (the row id); it can never lose one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerts import SENDS_PER_CHANNEL, Notifier
from monitor.alerts.claims import CLAIM_LEASE, AlertClaims
from monitor.alerts.holding import QuietHours, Throttle, hold_until
from monitor.alerts.pauses import ChannelPauses
from monitor.alerts.schedules import HOURLY, AlertMode, Schedule
from monitor.archive import Archive, OutboxRow
from monitor.errors import ArchiveError, NotifyError
from monitor.models import AlertRecord, AlertState, ArchivedArticle, Article
from monitor.payloads import alert_json, digest_json
from monitor.phrases import counted

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
MAX_AGE = timedelta(days=2)
BATCH = 100
DIGEST_LIMIT = 10_000
RENEW_EVERY = CLAIM_LEASE.total_seconds() / 4  # a renewal may fail or be late and the claim holds


@dataclass(frozen=True, slots=True)
class AlertRoute:
    """One configured alert: which rules feed it, how it is sent, and where."""

    name: str
    rules: frozenset[str] | None
    mode: AlertMode
    notifiers: tuple[Notifier, ...]
    max_attempts: int = MAX_ATTEMPTS
    max_age: timedelta = MAX_AGE
    every: Schedule = HOURLY
    throttle: Throttle | None = None
    quiet: QuietHours | None = None

    def wants(self, article: Article) -> list[str]:
        rules = set(article.rules)
        return sorted(rules if self.rules is None else rules & self.rules)


@dataclass(slots=True)
class DispatchReport:
    sent: int = 0  # alert rows: one per story and channel
    failed: int = 0
    stories: set[str] = field(default_factory=set)  # the stories among the rows sent
    messages: int = 0  # a digest carries many rows in one message
    postponed: int = 0  # rows left for later, their channel paused (ChannelPauses)


def retry_at(
    now: datetime,
    attempts: int,
    retry_after: float | None,
    created: datetime | None = None,
    route: AlertRoute | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try a failed send again: 30 s doubling to an hour, at least Retry-After; None once
    the alert should be dead-lettered (too many attempts, or older than the route allows)."""
    max_attempts = route.max_attempts if route else MAX_ATTEMPTS
    max_age = route.max_age if route else MAX_AGE
    if attempts >= max_attempts or (created is not None and now - created >= max_age):
        return None
    backoff = min(30.0 * 2 ** (attempts - 1), 3600.0) * (1 + (rng or random).uniform(0, 0.1))
    return now + timedelta(seconds=max(backoff, retry_after or 0.0))


async def _delivery_error(notifier: Notifier, payload: dict[str, Any], key: str) -> NotifyError | None:
    """Send one message; what went wrong, if anything. Any error is this message's failure, to
    retry and then dead-letter, never the dispatcher's: it must not hold back other alerts."""
    try:
        await asyncio.wait_for(notifier.send(payload, key), notifier.deadline)
    except NotifyError as error:
        return error
    except TimeoutError:
        return NotifyError(
            notifier.key, f"not done within its {notifier.deadline:g}s deadline", unreachable=True
        )
    except Exception as error:
        log.exception("sending %s to %s failed unexpectedly", key, notifier.key)
        return NotifyError(notifier.key, f"unexpected error: {type(error).__name__}: {error}")
    return None


class Dispatcher:
    def __init__(
        self,
        archive: Archive,
        routes: Sequence[AlertRoute],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.archive = archive
        self.outbox = archive.outbox
        self.routes = {route.name: route for route in routes}
        self.clock = clock
        self.notifiers = {
            (route.name, notifier.key): notifier for route in routes for notifier in route.notifiers
        }
        self.claimer = "once"  # what its claims on the outbox say took them (see release_alert_claims)
        # Sharing the archive with other daemons, rows to a channel this one lacks are theirs (a
        # config being rolled out one daemon at a time); alone, such a row is dead-lettered.
        self.channels = sorted({key for _, key in self.notifiers}) if archive.shared else None
        self.totals = DispatchReport()  # every send since start (the daemon's pass summary reads it)
        self._held_reconsidered = False
        self._sending: set[asyncio.Task[None]] = set()
        self.claims = AlertClaims(self.outbox, clock)
        self._stories_in_flight: dict[str, Counter[str]] = {route.name: Counter() for route in routes}
        self._slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self.pauses = ChannelPauses()

    def outbox_for(self, article: Article) -> list[OutboxRow]:
        """The outbox rows a newly stored article creates: one per (alert, channel, story)."""
        rows: list[OutboxRow] = []
        for route in self.routes.values():
            rules = route.wants(article)
            if not rules:
                continue
            for notifier in route.notifiers:
                rows.append(OutboxRow(route.name, notifier.key, article.story, article.id, tuple(rules)))
        return rows

    async def dispatch(self, wait: bool = True) -> DispatchReport:
        """Claim every due row of the immediate alerts and start sending it, holding back those in
        quiet hours or over their throttle; then start the held rows now due, as one digest per
        channel. Sends run concurrently, at most SENDS_PER_CHANNEL to a channel, each within its
        channel's deadline. With `wait`, return when they are done; without, at once (the
        daemon: a receiver that hangs then holds back nothing else)."""
        report = DispatchReport()
        started: list[asyncio.Task[None]] = []
        if not self._held_reconsidered:
            await self._reconsider_held()
        for route in self.routes.values():
            if route.mode is AlertMode.IMMEDIATE:
                started += await self._dispatch_route(route, report)
        started += await self._send_held(report)
        if wait and started:
            await self._wait_renewing(started)
        return report

    async def _reconsider_held(self) -> None:
        """Held alerts were given a release time by the config of their day: with quiet hours
        shortened or removed, or throttling dropped, they go out as the current config says.
        (Once a run: the config is read at start.)"""
        now = self.clock()
        for route in self.routes.values():
            if route.mode is not AlertMode.IMMEDIATE:
                continue
            latest = [now]
            if route.quiet is not None and (quiet_end := route.quiet.end_of_quiet(now)) is not None:
                latest.append(quiet_end)
            if route.throttle is not None:
                latest.append(route.every.next_after(now))
            moved = await asyncio.to_thread(self.outbox.bring_forward_held, route.name, max(latest))
            if moved:
                by = max(latest).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                log.info("%s held alerts of %s now go out by %s", moved, route.name, by)
        self._held_reconsidered = True

    @property
    def sends_in_flight(self) -> int:
        """Sends started and not ended (those waiting for a slot included)."""
        return len(self._sending)

    async def drain(self, grace: float) -> int:
        """Let the sends in flight finish, for up to `grace` seconds; how many did not. Those
        are stopped (left running, they would fail as the channels close under them, each
        recorded as a failed attempt) and their rows stay claimed, so none is sent twice: they
        go out when the claim's lease ends, or at once when this daemon starts again."""
        unfinished = set(self._sending)
        if unfinished:
            _, unfinished = await asyncio.wait(unfinished, timeout=grace)
        for send in unfinished:
            send.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        return len(unfinished)

    async def _dispatch_route(self, route: AlertRoute, report: DispatchReport) -> list[asyncio.Task[None]]:
        now = self.clock()
        in_flight = self._stories_in_flight[route.name]
        earlier = len(in_flight)
        if route.throttle is not None:
            earlier += await asyncio.to_thread(
                self.outbox.stories_sent, route.name, now - route.throttle.window
            )
        stories: set[str] = set()  # started in this pass: a story's other channels follow it
        started: list[asyncio.Task[None]] = []
        while True:
            lease = now + CLAIM_LEASE
            rows = await asyncio.to_thread(
                self.outbox.claim_alerts,
                now,
                lease,
                BATCH,
                [route.name],
                AlertState.PENDING,
                self.claimer,
                self.channels,
            )
            for row in rows:
                until = None
                if row.story not in stories and row.story not in in_flight:
                    until = hold_until(now, route.quiet, route.throttle, earlier + len(stories), route.every)
                if until is not None:
                    await asyncio.to_thread(self.outbox.hold_alerts, [row.id], until)
                    log.info("alert %s held until %s (%s)", row.id, until.isoformat(), route.name)
                else:
                    stories.add(row.story)
                    self.claims.hold([row.id], lease)
                    send = self._send_one(row, report)
                    started.append(self._start(row.alert, row.channel, send, [row], row.story))
            if len(rows) < BATCH:
                return started

    def _start(
        self,
        alert: str,
        channel: str,
        send: Coroutine[Any, Any, Any],
        rows: list[AlertRecord],
        story: str | None = None,
    ) -> asyncio.Task[None]:
        """Run a send of claimed rows as a task of its own (a cancelled job does not cancel it:
        see drain), at most SENDS_PER_CHANNEL at once to one channel; their claims are kept
        until it ends."""
        self._bind_to_loop()
        slot = self._slots.setdefault((alert, channel), asyncio.Semaphore(SENDS_PER_CHANNEL))
        in_flight = self._stories_in_flight.setdefault(alert, Counter())
        if story is not None:
            in_flight[story] += 1

        async def bounded() -> None:
            try:
                async with slot:
                    await send
            except ArchiveError as fault:  # a send whose outcome could not be recorded (disk full)
                # Its rows stay claimed: tried again once the claims lapse, with the same
                # Idempotency-Key. One line, not a task's traceback.
                log.error("%s to %s: its outcome not recorded now: %s", alert, channel, fault)
            finally:
                send.close()  # never started (stopped waiting for its slot): no warning of it
                self.claims.forget(row.id for row in rows)
                if story is not None:
                    in_flight[story] -= 1
                    if in_flight[story] <= 0:
                        del in_flight[story]

        task = asyncio.create_task(bounded())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return task

    def _bind_to_loop(self) -> None:
        """Slots belong to one event loop (`once` and tests run several)."""
        loop = asyncio.get_running_loop()
        if self._slots_loop is not loop:
            self._slots, self._slots_loop = {}, loop

    async def renew_claims(self) -> None:
        """Keep the claims of the rows waiting for a slot from lapsing (the daemon calls this
        every quarter lease): a claim lapses only when its dispatcher died or stalled."""
        await self.claims.renew()

    async def _wait_renewing(self, started: list[asyncio.Task[None]]) -> None:
        """Wait for these sends, renewing meanwhile the claims of rows still waiting or being
        marked (`monitor once` has no daemon to renew them; a digest marks its rows one by one)."""
        pending = set(started)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=RENEW_EVERY)
            if pending:
                try:
                    await self.renew_claims()
                except ArchiveError as fault:  # the sends go on; a claim may lapse meanwhile
                    log.error("alert claims not renewed now: %s", fault)

    async def _still_ours(self, rows: list[AlertRecord]) -> list[AlertRecord]:
        deadline = max((notifier.deadline for notifier in self.notifiers.values()), default=0.0)
        return await self.claims.still_ours(rows, deadline)

    async def _send_one(self, row: AlertRecord, report: DispatchReport) -> bool:
        try:
            if not await self._still_ours([row]):
                return False
            archived = await asyncio.to_thread(self.archive.article, row.article_id)
        except ArchiveError as fault:  # the row stays claimed: sent once its claim lapses
            log.error("alert %s: not sent now: %s", row.id, fault)
            return False
        notifier = self.notifiers.get((row.alert, row.channel))
        if notifier is None or archived is None:
            reason = "channel no longer configured" if notifier is None else "article is gone"
            await self._failed([row], NotifyError(row.channel, reason), final=True, report=report)
            return False
        channel = (row.alert, row.channel)
        paused_until = self.pauses.until(channel, self.clock())
        if paused_until is not None:  # the receiver asked for a wait, or does not answer
            await asyncio.to_thread(self.outbox.postpone_alerts, [row.id], paused_until)
            report.postponed += 1
            return False
        payload = alert_json(row.id, row.alert, list(row.rules), archived)
        error = await _delivery_error(notifier, payload, row.id)
        if error is not None:
            self.pauses.failed(channel, error, self.clock())
            await self._failed([row], error, final=False, report=report)
            return False
        self.pauses.answered(channel)
        await asyncio.to_thread(self.outbox.mark_alerts_sent, [row.id], self.clock())
        report.sent += 1
        self.totals.sent += 1
        log.info("alert %s (%s) sent to %s", row.id, row.alert, row.channel)
        return True

    async def _failed(
        self,
        rows: list[AlertRecord],
        error: NotifyError,
        final: bool,
        report: DispatchReport,
        jitter_seed: str | None = None,
    ) -> None:
        """Retry later (a held row stays held: it goes out in a digest), or dead-letter. The rows
        of one message (a digest's) are recorded together, with one log line; with a
        `jitter_seed` each has the same jitter, so that they are tried again together."""
        now, route = self.clock(), self.routes.get(rows[0].alert)
        retries = {
            row.id: None
            if final
            else retry_at(
                now,
                row.attempts + 1,
                error.retry_after,
                row.created,
                route,
                random.Random(jitter_seed) if jitter_seed else None,
            )
            for row in rows
        }
        first = rows[0]
        what = f"alert {first.id}" if len(rows) == 1 else f"digest of {counted(len(rows), 'alert')}"
        log.warning("%s to %s failed (attempt %d): %s", what, first.channel, first.attempts + 1, error)
        await asyncio.to_thread(self.outbox.mark_alerts_failed, retries, str(error), now, first.state)
        report.failed += len(rows)
        self.totals.failed += len(rows)

    async def send_digest(self, name: str) -> DispatchReport:
        """One message per channel listing every pending story of a digest alert (in its quiet
        hours, they are held and go out when the quiet hours end)."""
        report = DispatchReport()
        now = self.clock()
        lease = now + CLAIM_LEASE
        rows = await asyncio.to_thread(
            self.outbox.claim_alerts,
            now,
            lease,
            DIGEST_LIMIT,
            [name],
            AlertState.PENDING,
            self.claimer,
            self.channels,
        )
        route = self.routes.get(name)
        quiet_end = route.quiet.end_of_quiet(now) if route and route.quiet else None
        if quiet_end is not None:
            await asyncio.to_thread(self.outbox.hold_alerts, [row.id for row in rows], quiet_end)
            return report
        started = self._send_digests(rows, report, lease)
        if started:
            await self._wait_renewing(started)
        return report

    async def _send_held(self, report: DispatchReport) -> list[asyncio.Task[None]]:
        now, names = self.clock(), list(self.routes)
        lease = now + CLAIM_LEASE
        rows = await asyncio.to_thread(
            self.outbox.claim_alerts,
            now,
            lease,
            DIGEST_LIMIT,
            names,
            AlertState.HELD,
            self.claimer,
            self.channels,
        )
        return self._send_digests(rows, report, lease)

    def _send_digests(
        self, rows: list[AlertRecord], report: DispatchReport, lease: datetime
    ) -> list[asyncio.Task[None]]:
        by_channel: dict[tuple[str, str], list[AlertRecord]] = {}
        for row in rows:
            by_channel.setdefault((row.alert, row.channel), []).append(row)
            self.claims.hold([row.id], lease)
        return [
            self._start(name, channel, self._send_digest(name, channel, channel_rows, report), channel_rows)
            for (name, channel), channel_rows in by_channel.items()
        ]

    async def _send_digest(
        self, name: str, channel: str, rows: list[AlertRecord], report: DispatchReport
    ) -> None:
        rows = await self._still_ours(rows)
        if not rows:
            return
        notifier = self.notifiers.get((name, channel))
        found = await asyncio.to_thread(self.archive.articles, [row.article_id for row in rows])
        articles: list[ArchivedArticle] = [found[row.article_id] for row in rows if row.article_id in found]
        digest_key = hashlib.sha256("\n".join(sorted(row.id for row in rows)).encode()).hexdigest()
        if notifier is None:
            error: NotifyError | None = NotifyError(channel, "channel no longer configured")
        else:
            error = await _delivery_error(
                notifier, digest_json(digest_key[:24], name, articles), digest_key[:24]
            )
        if error is not None:
            await self._failed(rows, error, final=notifier is None, report=report, jitter_seed=digest_key)
            return
        await asyncio.to_thread(self.outbox.mark_alerts_sent, [row.id for row in rows], self.clock())
        report.sent += len(rows)
        report.stories.update(row.story for row in rows)
        report.messages += 1
        self.totals.sent += len(rows)

    async def close(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.close()
