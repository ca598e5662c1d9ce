"""One poll of one source, start to end: fetch, read, store, and the outcome recorded in the
source's schedule state, whatever went wrong."""

from __future__ import annotations

import hashlib
import logging
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.archive import FetchOutcome
from monitor.config.settings import SourceSettings
from monitor.errors import ArchiveError, FetchError, MonitorError
from monitor.ingest.parse.entries import NO_DIGESTS, split_digests
from monitor.ingest.parse.sitemaps import Sitemap
from monitor.ingest.poll.pipeline import Pipeline, SourceReport
from monitor.ingest.poll.policy import adapt_interval, next_poll, wants_full_fetch
from monitor.ingest.poll.reading import (
    FEED_ACCEPT,
    HTML_ACCEPT,
    SITEMAP_DEPTH,
    egress_policy,
    read_entries,
    sitemap_entries,
)
from monitor.ingest.poll.storing import store_new
from monitor.models import FeedEntry, PollResult, PollStatus, SourceState
from monitor.near_duplicates import unpack_shingles

log = logging.getLogger(__name__)


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
    status = PollStatus(PollResult.INTERNAL_ERROR)
    await _record(pipeline, source, FetchOutcome(now, next_poll(now, interval, errors), status, message))
    return SourceReport(source.name, PollResult.INTERNAL_ERROR, error=message)


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
            policy=egress_policy(source),
            etag=None if full or not state else state.etag,
            last_modified=None if full or not state else state.last_modified,
            accept=HTML_ACCEPT if source.kind == "html" else FEED_ACCEPT,
            poll_scope=poll_scope,
        ) as response:
            if response.not_modified:
                interval = _adapted(pipeline, source, interval, 0)
                outcome = FetchOutcome(
                    now, next_poll(now, interval, 0), PollStatus(PollResult.NOT_MODIFIED), interval=interval
                )
                await _record(pipeline, source, outcome)
                return SourceReport(source.name, PollResult.NOT_MODIFIED)
            body_hash = hashlib.sha256(response.body).hexdigest()
            digests: bytes | None = None
            entries: list[FeedEntry] | None = None
            sitemap: Sitemap | None = None
            read = 0
            if state and body_hash == state.body_hash:
                status = PollStatus(PollResult.UNCHANGED, "same body")
            else:
                status = PollStatus(PollResult.OK, str(response.status))
                seen = split_digests(state.entry_digests) if state else NO_DIGESTS
                entries, digests, read, sitemap = await read_entries(pipeline, source, response, now, seen)
        # The body is parsed: let it go, for what follows may fetch (child sitemaps, pages) and
        # runs long, and a large body would be held by nothing but this name.
        response = replace(response, body=b"")
        new = updated = matched = 0
        boilerplate = None
        if sitemap is not None:
            entries = await sitemap_entries(pipeline, source, sitemap, now, SITEMAP_DEPTH)
            read = len(entries)
        if entries is not None:
            known = unpack_shingles(state.boilerplate) if state else frozenset()
            new, updated, matched, boilerplate = await store_new(pipeline, source, entries, now, known)
    except ArchiveError:
        raise  # the archive's trouble, not the source's: the poll is retried (runtime/scheduler)
    except MonitorError as error:
        await _record(pipeline, source, _failure(error, now, interval, state))
        log.warning("source %r failed: %s", source.name, error)
        return SourceReport(source.name, PollResult.ERROR, error=str(error))
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
    return SourceReport(source.name, status.result, read, new, matched, updated=updated)


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
        return FetchOutcome(now, None, PollStatus(PollResult.GONE), error=message)
    errors = (state.consecutive_errors if state else 0) + 1
    next_due = next_poll(now, interval, errors)
    if isinstance(error, FetchError) and error.retry_after is not None:
        next_due = max(next_due, now + timedelta(seconds=error.retry_after))
    return FetchOutcome(now, next_due, PollStatus(PollResult.ERROR), error=str(error))


async def _record(pipeline: Pipeline, source: SourceSettings, outcome: FetchOutcome) -> None:
    await pipeline.writes.record(source.name, outcome)
