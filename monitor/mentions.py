"""Mentions over time: how many articles each watch rule matched per day, week or month, the
points of a chart (the API's /api/v1/stats/mentions and the rules' pages). Part of the read
side's query layer (queries.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.moments import moment, until_moment
from monitor.names import known_names, name_key

INTERVALS = ("day", "week", "month")
MOST_POINTS = 1200  # intervals in one answer: three years of days, a century of months
# points in one answer, every series: 5,000 rules by day over 90 days, about 17 MB of JSON
MOST_POINTS_IN_ALL = 500_000
GROUPINGS = ("source", "language")


@dataclass(frozen=True, slots=True)
class MentionWindow:
    """What mention_series counts, checked: the rules, the span and its intervals' starts."""

    names: tuple[str, ...]
    start: datetime
    end: datetime
    starts: list[date]


def mention_window(
    settings: Settings,
    rules: Sequence[str],
    interval: str,
    since: str | None,
    until: str | None,
    by: str | None,
) -> MentionWindow:
    """mention_series()'s parameters checked, without reading the archive; UsageError for what
    is wrong in them."""
    if interval not in INTERVALS:
        raise UsageError(f"interval {interval!r}: give one of {', '.join(INTERVALS)}")
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"by {by!r}: give one of {', '.join(GROUPINGS)}")
    names = known_names(list(rules), [rule.name for rule in settings.watch], "watch rule") or tuple(
        rule.name for rule in settings.watch
    )
    taken_in = until_moment(until)  # the count's end (excluded) is just after it
    end = taken_in + timedelta(microseconds=1) if taken_in else datetime.now(UTC)
    asked = moment(since, "since") or end - timedelta(days=90)
    if asked >= end:
        raise UsageError("since is not before until")
    # Intervals up to the one of the last moment counted, not the one `end` (excluded) opens.
    first, last = _bucket(asked.date(), interval), _bucket((taken_in or end).date(), interval)
    # Each interval counted whole, from the start of the one `since` falls in: a first point
    # labelled with its day (or week, or month) but counted from 90 days ago at this hour, or
    # from a Wednesday, was short of its count with nothing to tell.
    start = datetime.combine(first, time.min, UTC)
    if _intervals_between(first, last, interval) >= MOST_POINTS:
        longer = " or count by month" if interval != "month" else ""
        raise UsageError(f"since to until is more than {MOST_POINTS} {interval}s: narrow it{longer}")
    window = MentionWindow(tuple(names), start, end, _buckets(first, last, interval))
    if not by:
        _check_points(len(window.names), window, interval)
    return window


def _check_points(lines: int, window: MentionWindow, interval: str, by: str | None = None) -> None:
    if lines * len(window.starts) > MOST_POINTS_IN_ALL:
        what = f"lines (rule and {by} pairs)" if by else "lines (rules)"
        fewer = f"fewer rules (rule=...), no by={by}" if by else "fewer rules (rule=...)"
        raise UsageError(
            f"{lines}{' or more' if by else ''} {what} of {len(window.starts)} {interval}s is more "
            f"than {MOST_POINTS_IN_ALL:,} points: ask for {fewer}, a shorter span or longer intervals"
        )


def mention_series(
    archive: Archive,
    settings: Settings,
    rules: Sequence[str],
    interval: str,
    since: str | None,
    until: str | None,
    by: str | None,
) -> dict[str, Any]:
    """Articles each rule (default: every one) matched per interval of publication, every
    interval from `since` (default 90 days back) to `until` (default now) present, empty ones
    as 0: a chart's points. By source or language when `by` names one. UsageError for what
    mention_window() refuses, and for more than MOST_POINTS_IN_ALL points."""
    window = mention_window(settings, rules, interval, since, until, by)
    counts: dict[tuple[str, str | None], dict[date, int]] = {}
    if not by:  # a rule that matched nothing still has its line, flat at 0
        counts = {(name, None): {} for name in window.names}
    most_lines = MOST_POINTS_IN_ALL // len(window.starts)
    # A source renamed in case or Unicode form only is one source (names.name_key): its articles
    # under the old spelling count on the configured one's line (an article has one source, so
    # the lines add up).
    configured = {name_key(source.name): source.name for source in settings.sources} if by == "source" else {}
    for mention in archive.stats.mentions(window.names, window.start, window.end, by, most_lines):
        key = (
            configured.get(name_key(mention.key), mention.key) if configured and mention.key else mention.key
        )
        bucket = counts.setdefault((mention.rule, key), {})
        when = _bucket(mention.day, interval)
        bucket[when] = bucket.get(when, 0) + mention.count
    _check_points(len(counts), window, interval, by)
    return {
        "interval": interval,
        "since": _exact(window.start),
        "until": _exact(window.end),  # excluded: until=12:00 takes in noon, so ends at 12:00:00.000001
        "by": by,
        "series": [
            {
                "rule": rule,
                # Both keys always, as the API's document has them
                "source": key if by == "source" else None,
                "language": key if by == "language" else None,
                "points": [{"start": day.isoformat(), "count": found.get(day, 0)} for day in window.starts],
            }
            for (rule, key), found in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        ],
    }


def _exact(moment: datetime) -> str:
    """ISO 8601 in UTC, with microseconds when it has any."""
    timespec = "microseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _intervals_between(first: date, last: date, interval: str) -> int:
    if interval == "month":
        return (last.year - first.year) * 12 + last.month - first.month
    return (last - first).days // (7 if interval == "week" else 1)


def _bucket(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def _buckets(first: date, last: date, interval: str) -> list[date]:
    found, day = [], first
    while day <= last:
        found.append(day)
        day = _next(day, interval)
    return found


def _next(day: date, interval: str) -> date:
    if interval == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=7 if interval == "week" else 1)
