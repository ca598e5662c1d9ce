"""Channels left alone for now, so that one that asks for a wait or stops answering does not
get every pending alert, each spending an attempt and a timeout on it."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from monitor.errors import NotifyError

log = logging.getLogger(__name__)

PAUSE_FIRST = 30.0  # seconds a channel that stopped answering is left alone, doubling to
PAUSE_MOST = 600.0


class ChannelPauses:
    """The channels to leave alone for now: one that asked for a wait (429 or 503 with
    Retry-After) is paused that long, one that does not answer (refused, reset, timed out) for
    30 s doubling to 10 minutes while it stays so. Its other alerts wait unsent, no attempt
    counted, instead of each spending an attempt and a timeout on it: a review saw 247 POSTs in
    40 s to a receiver answering 429 Retry-After 20, and `monitor once` held for minutes by one
    that hung."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], datetime] = {}
        self._unanswered: Counter[tuple[str, str]] = Counter()

    def until(self, channel: tuple[str, str], now: datetime) -> datetime | None:
        paused = self._until.get(channel)
        return paused if paused is not None and paused > now else None

    def failed(self, channel: tuple[str, str], error: NotifyError, now: datetime) -> None:
        if error.retry_after:
            wait = min(error.retry_after, PAUSE_MOST * 6)  # an hour, as retry_at caps it
        elif error.unreachable:
            if self.until(channel, now) is not None:
                return  # a send begun before the pause, failing with the others: one outage
            self._unanswered[channel] += 1
            wait = min(PAUSE_FIRST * 2 ** (self._unanswered[channel] - 1), PAUSE_MOST)
        else:
            return  # this message's trouble (a 500, a template), not the channel's
        until = now + timedelta(seconds=wait)
        if until > self._until.get(channel, now):
            self._until[channel] = until
            log.warning(
                "alerts to %s paused until %s: %s", channel[1], until.isoformat(timespec="seconds"), error
            )

    def answered(self, channel: tuple[str, str]) -> None:
        self._until.pop(channel, None)
        self._unanswered.pop(channel, None)
