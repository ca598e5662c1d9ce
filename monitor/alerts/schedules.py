"""When an alert sends: at once or in digests, and the digest period, parsed once from the config."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config.durations import DurationTooLong, parse_duration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AlertMode(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A digest period: a duration, counted from the Unix epoch (1h: on the hour), or a cron
    line (UTC). Throttled alerts roll over to its next time as well."""

    text: str
    period: timedelta | None = None
    cron: CronTrigger | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """ValueError when `text` is neither a duration (30m, 1h, 1d) nor a five-field cron line."""
        try:
            period = parse_duration(text)
        except DurationTooLong:
            raise
        except ValueError:
            pass
        else:
            if period <= timedelta(0):
                raise ValueError(f"{text!r}: a digest period must be longer than zero")
            return cls(text, period=period)
        try:
            return cls(text, cron=CronTrigger.from_crontab(text, timezone=UTC))
        except ValueError:
            raise ValueError(f"{text!r} is neither a duration nor a cron line") from None

    def __str__(self) -> str:
        return self.text

    def next_after(self, now: datetime) -> datetime:
        if self.period is not None:
            seconds = self.period.total_seconds()
            return datetime.fromtimestamp(math.floor(now.timestamp() / seconds + 1) * seconds, UTC)
        assert self.cron is not None
        fire = self.cron.get_next_fire_time(None, now)
        return fire if fire is not None else now + timedelta(days=1)

    def trigger(self) -> IntervalTrigger | CronTrigger:
        """The APScheduler trigger firing at these times."""
        if self.period is not None:  # from the epoch, as next_after: daemons started apart fire together
            return IntervalTrigger(seconds=self.period.total_seconds(), start_date=EPOCH, timezone=UTC)
        assert self.cron is not None
        return self.cron


HOURLY = Schedule.parse("1h")
