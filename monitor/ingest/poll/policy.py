"""Scheduling policy: pure functions of the state and `now`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=6)
# Some servers send stale validators (a 304 for a changed feed): refetch without them daily.
FULL_FETCH_EVERY = timedelta(days=1)
JITTER = 0.1


def next_poll(
    now: datetime,
    interval: timedelta,
    consecutive_errors: int,
    rng: random.Random | None = None,
) -> datetime:
    """The next poll time: the interval, doubled per consecutive error up to a cap, with jitter.

    Never gives up: a failing source keeps being polled, at worst every MAX_BACKOFF.
    """
    delay = interval
    if consecutive_errors > 0:
        factor = 2 ** min(consecutive_errors, 16)
        delay = min(max(interval * factor, interval), max(MAX_BACKOFF, interval))
    spread = (rng or random).uniform(-JITTER, JITTER)
    return now + delay * (1 + spread)


def longest_wait(interval: timedelta) -> timedelta:
    """The longest a source polled without error waits for its next poll: its interval and the
    jitter's most."""
    return interval * (1 + JITTER)


def adapt_interval(current: timedelta, new_items: int, lower: timedelta, upper: timedelta) -> timedelta:
    """Poll busy sources more often and quiet ones less: halve the interval after a poll that
    found new items, stretch it by half after one that found none, within [lower, upper]."""
    proposed = current / 2 if new_items else current * 1.5
    return min(max(proposed, lower), upper)


def wants_full_text(mode: str, title: str, summary: str, content: str) -> bool:
    """Whether to fetch the article page: always, never, or (auto) when the feed has a teaser."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    text = content or summary
    truncated = text.rstrip().endswith(("…", "...", "[…]", "[...]", "Read more", "Continue reading"))
    return len(text) < 600 or truncated


def wants_full_fetch(now: datetime, last_full_fetch: datetime | None) -> bool:
    """Whether to fetch without ETag/Last-Modified this time."""
    return last_full_fetch is None or now - last_full_fetch >= FULL_FETCH_EVERY
