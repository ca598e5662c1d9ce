"""Dates as publishers write them, turned into believable aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def parse_iso_date(value: str) -> datetime | None:
    """An ISO 8601 date or datetime (naive means UTC); None when it is not one."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def plausible_date(value: datetime | None, now: datetime) -> datetime | None:
    """The date if it is believable: not before 1990, not more than a day in the future."""
    if value is None or value < _EARLIEST or value > now + timedelta(days=1):
        return None
    return value
