"""When an alert is held back instead of sent at once: quiet hours and throttling. Pure: every
function takes `now`.

A held alert waits for a time (the end of the quiet hours, or the alert's next digest slot)
and then goes out with the others held with it, as one digest per channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.alerts.schedules import Schedule

_THROTTLE = re.compile(r"^\s*(\d+)\s*/\s*(hour|h|day|d)\s*$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span of local time (it may run past midnight) in which nothing is sent."""

    start: time
    end: time
    zone: ZoneInfo

    def end_of_quiet(self, now: datetime) -> datetime | None:
        """When the quiet hours that hold `now` end; None when `now` is not in them."""
        local = now.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            quiet, ends_tomorrow = self.start <= clock < self.end, False
        else:
            quiet, ends_tomorrow = clock >= self.start or clock < self.end, clock >= self.start
        if not quiet:
            return None
        day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
        return datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most `count` stories per `window`; beyond it, alerts roll into the next digest."""

    count: int
    window: timedelta

    def __str__(self) -> str:
        return f"{self.count}/{'hour' if self.window == timedelta(hours=1) else 'day'}"


def parse_throttle(text: str) -> Throttle:
    found = _THROTTLE.match(text)
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"{text!r}: write N/hour or N/day with N at least 1")
    window = timedelta(hours=1) if found.group(2).startswith("h") else timedelta(days=1)
    return Throttle(int(found.group(1)), window)


def hold_until(
    now: datetime,
    quiet: QuietHours | None,
    throttle: Throttle | None,
    stories_sent: int,
    every: Schedule,
) -> datetime | None:
    """Until when an alert due now is held; None to send it now."""
    quiet_end = quiet.end_of_quiet(now) if quiet else None
    if quiet_end is not None:
        return quiet_end
    if throttle is not None and stories_sent >= throttle.count:
        return every.next_after(now)
    return None
