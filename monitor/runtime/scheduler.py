"""`monitor run`: a few coarse APScheduler jobs over the archive's schedule, not one per feed.

Jobs: claim and poll due sources, dispatch immediate alerts, send each digest on its schedule,
apply retention. SIGINT/SIGTERM stop new work, let in-flight jobs finish, send what they queued.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.alerts.schedules import AlertMode
from monitor.app import CLAIM_LEASE, App
from monitor.archive import FetchOutcome
from monitor.config.durations import format_duration
from monitor.config.settings import SourceSettings
from monitor.errors import ArchiveError, ArchiveGone
from monitor.ingest.poll.pipeline import SourceReport
from monitor.metrics import Metrics
from monitor.models import PollResult, PollStatus, SourceState
from monitor.phrases import counted
from monitor.runtime.fault_log import FaultLog

log = logging.getLogger(__name__)
CLAIM_TICK = timedelta(milliseconds=250)  # how late a due source may start: keep it small
DISPATCH_TICK = timedelta(seconds=1)
RETENTION_EVERY = timedelta(hours=1)
RENEW_EVERY = CLAIM_LEASE.total_seconds() / 4  # a renewal may fail or be late and the lease still holds
SHUTDOWN_GRACE = 60.0
MOST_NAMED = 10  # sources named in a log line
DAEMON = "daemon"  # the claimer of alert rows a daemon sends
LONGEST_PASS = timedelta(hours=1)


class SkippedTicks(logging.Filter):
    """Drops APScheduler's warning that a tick found the job's previous run still going: the
    jobs are ticks by design (a slow pass simply skips them), so it would repeat four times a
    second while the archive is slow."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


def new_scheduler() -> AsyncIOScheduler:
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(installed, SkippedTicks) for installed in scheduler_log.filters):
        scheduler_log.addFilter(SkippedTicks())
    return AsyncIOScheduler(timezone=UTC, logger=scheduler_log)


@dataclass(slots=True)
class PassTally:
    """What happened since the last pass summary."""

    polls: int = 0
    failed: int = 0
    new: int = 0
    matched: int = 0
    cut_short: int = 0  # polls the stop did not wait for
    fault: str = ""  # the last archive fault, if any

    def line(self, sent: int, send_failures: int) -> str:
        ok = self.polls - self.failed - self.cut_short
        stopped = f", {self.cut_short} cut short by the stop" if self.cut_short else ""
        line = (
            f"pass: {counted(self.polls, 'poll')} ({ok} ok, {self.failed} failed{stopped}), "
            f"{counted(self.new, 'new article')}, {self.matched} matched, {counted(sent, 'alert')} sent, "
            f"{send_failures} failed"
        )
        return line + (f"; archive fault: {self.fault}" if self.fault else "")


def pass_length(app: App) -> timedelta:
    """A pass: the shortest poll interval of any source (so each busiest source is polled about
    once in it), at most an hour."""
    settings = app.settings
    shortest = (source.min_every or settings.interval(source) for source in settings.sources)
    return min(min(shortest, default=LONGEST_PASS), LONGEST_PASS)


class Daemon:
    def __init__(self, app: App, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics or Metrics()
        self.metrics.watch_sends(app.dispatcher.totals)
        app.dispatcher.claimer = DAEMON  # its claims are this daemon's: the next one releases them
        self.in_flight: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        self.dispatching = asyncio.Lock()  # one claim round at a time (the sends run on their own)
        # Polls the archive could not take (disk full, damage), whose failure it could not record
        # either: polled again after their interval, still under this daemon's claim.
        self.retries: dict[str, tuple[datetime, SourceSettings, SourceState | None]] = {}
        self.claims: dict[str, datetime] = {}  # sources polled or retried under a lease: its claim's time
        self.polling: set[str] = set()  # sources whose poll is running
        self.faults = FaultLog()
        self.tally = PassTally()
        self.alerts_counted = (0, 0)  # the dispatcher's totals at the last summary
        self.gone: ArchiveGone | None = None  # why the daemon stopped on its own

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self.stopping.is_set():
                return
            task = asyncio.current_task()
            if task is not None:
                self.in_flight.add(task)
            try:
                await job()
            except asyncio.CancelledError:  # the scheduler shutting down mid-job: nothing failed
                log.debug("job %s cancelled at shutdown", getattr(job, "__name__", job))
            except ArchiveGone as error:
                log.error("stopping, so that nothing more is written where no one reads it: %s", error)
                self.gone = error
                self.stopping.set()
            except ArchiveError as error:  # one line, not a traceback a tick
                self._report_fault(f"job {getattr(job, '__name__', job)}: {error}", error)
            except Exception:  # a failing job must not stop the daemon; it runs again next tick
                log.exception("job %s failed", getattr(job, "__name__", job))
            finally:
                if task is not None:
                    self.in_flight.discard(task)

        return run

    async def poll_due(self) -> None:
        """Start a task per due source and return: a slow source never holds up the others."""
        self.app.archive.still_open()  # a stat of the file: no poll writes into one deleted
        now = self.app.clock()
        retried = [(source, state) for when, source, state in self.retries.values() if when <= now]
        for source, _ in retried:
            del self.retries[source.name]
        claimed_at, claimed = await self.app.claim_due()
        for source, _ in claimed:
            self.claims[source.name] = claimed_at
        for source, state in retried + claimed:
            task = asyncio.create_task(self._poll(source, state))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def renew_claims(self) -> None:
        """Keep the leases of this daemon's running polls (and of those it retries), and the
        claims of its alerts waiting to be sent, from lapsing: a lease lapses only when its
        daemon died, and then another takes the source or sends the alert."""
        try:
            await self._renew_source_claims()
        finally:
            await self.app.dispatcher.renew_claims()

    async def _renew_source_claims(self) -> None:
        if not self.claims:
            return
        until = self.app.clock() + CLAIM_LEASE
        by_claim: dict[datetime, list[str]] = {}
        for name, claimed_at in self.claims.items():
            by_claim.setdefault(claimed_at, []).append(name)
        for claimed_at, names in by_claim.items():
            renewed = await asyncio.to_thread(self.app.archive.renew_claims, names, claimed_at, until)
            for name in set(names) - renewed:  # recorded meanwhile, or lost to another daemon
                if self.claims.get(name) == claimed_at and name not in self.polling:
                    del self.claims[name]

    async def _poll(self, source: SourceSettings, state: SourceState | None) -> None:
        self.polling.add(source.name)
        try:
            await self._poll_and_report(source, state)
        finally:
            self.polling.discard(source.name)
            if source.name not in self.retries:
                self.claims.pop(source.name, None)

    async def _poll_and_report(self, source: SourceSettings, state: SourceState | None) -> None:
        # A poll is counted as it ends, with its outcome, before anything else is awaited: one
        # running across a summary was "ok" in the pass it began in and -1 ok in the next.
        started = time.monotonic()
        try:
            report = await self.app.poll_one(source, state)
        except asyncio.CancelledError:  # the stop's grace ended: polled again at the next start
            self.tally.polls += 1
            self.tally.cut_short += 1
            raise
        except ArchiveError as error:
            self.tally.polls += 1
            self.tally.failed += 1
            self.metrics.poll_done(PollResult.ARCHIVE_ERROR.value, time.monotonic() - started, 0, 0)
            await self._archive_failed(source, state, error)
            return
        except Exception:  # a bug of ours outside the poll's own handling: the lease retries it later
            self.tally.polls += 1
            self.tally.failed += 1
            self.metrics.poll_done(PollResult.INTERNAL_ERROR.value, time.monotonic() - started, 0, 0)
            log.exception("polling %r failed", source.name)
            return
        self.metrics.poll_done(report.status.value, time.monotonic() - started, report.new, report.matched)
        self.tally.polls += 1
        self.tally.failed += report.error is not None
        self.tally.new += report.new
        self.tally.matched += report.matched
        _log_report(report, state)
        if report.matched:
            await self.dispatch()  # alert now rather than at the next dispatch tick

    async def _archive_failed(
        self, source: SourceSettings, state: SourceState | None, error: ArchiveError
    ) -> None:
        """The archive could not take a poll: say so in one line, record it on the source if the
        archive still can, and poll again after the source's interval, not the claim's lease."""
        now, interval = self.app.clock(), self.app.settings.interval(source)
        self._report_fault(
            f"polling {source.name!r}: {error}; polling again in {format_duration(interval)}", error
        )
        outcome = FetchOutcome(now, now + interval, PollStatus(PollResult.ARCHIVE_ERROR), error=str(error))
        try:
            await asyncio.to_thread(self.app.archive.record_fetch, source.name, outcome)
        except ArchiveError:
            self.retries[source.name] = (now + interval, source, state)

    def _report_fault(self, message: str, error: ArchiveError) -> None:
        """Log an archive fault once a minute while it lasts, not once a tick, a job or a source;
        the pass's summary line says it."""
        self.tally.fault = message.split(": ", 1)[-1]
        self.faults.report(message, error)

    async def dispatch(self) -> None:
        """Start sending what is due; the sends finish on their own (logged as they end)."""
        async with self.dispatching:
            await self.app.dispatcher.dispatch(wait=False)

    async def summarize(self) -> None:
        """One line for the pass that ended: polls, articles, matches, alerts, archive faults."""
        totals = self.app.dispatcher.totals
        sent, failed = totals.sent - self.alerts_counted[0], totals.failed - self.alerts_counted[1]
        self.alerts_counted = (totals.sent, totals.failed)
        tally, self.tally = self.tally, PassTally()
        (log.error if tally.fault else log.info)("%s", tally.line(sent, failed))

    async def retention(self) -> None:
        retention = self.app.settings.retention
        async with self._alone("retention") as held:
            if not held:
                return
            removed = await asyncio.to_thread(
                self.app.archive.purge, self.app.clock(), retention.unmatched, retention.matched
            )
        if removed:
            log.info("retention: removed %d old articles", removed)

    @asynccontextmanager
    async def _alone(self, job: str) -> AsyncIterator[bool]:
        """Whether this daemon holds the job (Archive.hold_job) while inside: on an archive
        several daemons share, another may be running it."""
        hold = await asyncio.to_thread(self.app.archive.hold_job, job)
        if hold is None:
            log.debug("%s: another daemon is running it", job)
            yield False
            return
        try:
            yield True
        finally:
            await asyncio.to_thread(hold.release)

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        options: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        now = datetime.now(UTC)
        claim, dispatch = CLAIM_TICK.total_seconds(), DISPATCH_TICK.total_seconds()
        scheduler.add_job(
            self._tracked(self.poll_due), "interval", seconds=claim, next_run_time=now, **options
        )
        scheduler.add_job(
            self._tracked(self.dispatch), "interval", seconds=dispatch, next_run_time=now, **options
        )
        scheduler.add_job(
            self._tracked(self.retention), "interval", seconds=RETENTION_EVERY.total_seconds(),
            next_run_time=now, **options,
        )  # fmt: skip
        scheduler.add_job(self._tracked(self.renew_claims), "interval", seconds=RENEW_EVERY, **options)
        every = pass_length(self.app).total_seconds()
        scheduler.add_job(self._tracked(self.summarize), "interval", seconds=every, **options)
        for alert in self.app.settings.alerts:
            if alert.mode is AlertMode.DIGEST:
                name = alert.name

                async def digest(name: str = name) -> None:
                    async with self._alone(f"digest {name}") as held:
                        if not held:
                            return
                        report = await self.app.dispatcher.send_digest(name)
                    stories = counted(len(report.stories), "story", "stories")
                    messages, failed = counted(report.messages, "message"), counted(report.failed, "alert")
                    log.info("digest %s: %s in %s, %s failed", name, stories, messages, failed)

                scheduler.add_job(self._tracked(digest), alert.every.trigger(), **options)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        if self.app.archive.shared:
            log.info(
                "the archive is shared: a stopped daemon's polls and sends are taken when their claims lapse"
            )
        else:  # the only daemon: whatever is claimed, a daemon that stopped left it unfinished
            await self._take_over()
        gc.freeze()  # the config, the compiled rules and the automaton live as long as the daemon
        scheduler = new_scheduler()
        self.schedule(scheduler)
        scheduler.start()
        self.metrics.scheduler_running = True
        log.info(
            "monitor running: %d sources, %d rules; a summary every %s",
            len(self.app.settings.sources),
            len(self.app.settings.watch),
            format_duration(pass_length(self.app)),
        )
        await self.stopping.wait()
        log.info(
            "stopping: finishing %s and %s in flight",
            counted(len(self.in_flight), "job"),
            counted(self.app.dispatcher.sends_in_flight, "alert send"),
        )
        scheduler.shutdown(wait=False)
        self.metrics.scheduler_running = False
        # One grace for the three steps below, within the stop grace of docker-compose.yml.
        ends = loop.time() + SHUTDOWN_GRACE
        await self._finish_jobs(SHUTDOWN_GRACE)
        sends_alerts = self.gone is None and bool(self.app.dispatcher.routes)
        if sends_alerts and ends - loop.time() <= 0:
            log.warning("stopping: no time left for a last claim of alerts due; any stay pending")
        elif sends_alerts:
            try:
                await asyncio.wait_for(self.dispatch(), timeout=ends - loop.time())
            except TimeoutError:  # a backlog of thousands of alerts: what is not claimed stays pending
                log.warning(
                    "stopping: alerts still being claimed after %.0f s are left pending", SHUTDOWN_GRACE
                )
        unfinished = await self.app.dispatcher.drain(max(0.0, ends - loop.time()))
        if unfinished:
            log.warning(
                "stopped with %d alert sends unfinished: they go out when the daemon starts again, or once "
                "their claims lapse on a shared archive",
                unfinished,
            )
        await self.summarize()  # the pass cut short
        log.info("stopped")
        if self.gone is not None:
            raise self.gone

    async def _finish_jobs(self, grace: float) -> None:
        """Let the jobs in flight end, for up to `grace` seconds, and cut the rest short: a poll
        cut short is polled again at the next start (or, on a shared archive, by another daemon
        once its lease lapses)."""
        if not self.in_flight:
            return
        _, unfinished = await asyncio.wait(set(self.in_flight), timeout=grace)
        if not unfinished:
            return
        polls = sorted(self.polling)
        named = ", ".join(polls[:MOST_NAMED])
        if len(polls) > MOST_NAMED:
            named += f" and {len(polls) - MOST_NAMED} more"
        log.warning(
            "stopping: %s still running after %.0f s cut short%s",
            counted(len(unfinished), "job"),
            grace,
            f" (polling {named}: polled again at the next start)" if polls else "",
        )
        for job in unfinished:
            job.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _take_over(self) -> None:
        released = await asyncio.to_thread(self.app.archive.release_claims, self.app.clock())
        if released:
            log.info("%d sources were mid-poll when the last run stopped: polling them now", released)
        unsent = await asyncio.to_thread(self.app.archive.outbox.release_alert_claims, DAEMON)
        if unsent:
            log.info("%d alerts were mid-send when the last run stopped: sending them again", unsent)


def _log_report(report: SourceReport, before: SourceState | None) -> None:
    """Changes at INFO (new articles, a recovery), routine polls at DEBUG; failures were logged
    where they happened."""
    if report.error:
        return
    if before is not None and before.consecutive_errors:
        log.info(
            "%s: recovered after %s: %s",
            report.source,
            counted(before.consecutive_errors, "failure"),
            report.status,
        )
    (log.info if report.new or report.updated else log.debug)(
        "%s: %s, %s, %d new, %d updated, %d matched",
        report.source, report.status, counted(report.entries, "entry", "entries"), report.new,
        report.updated, report.matched,
    )  # fmt: skip
