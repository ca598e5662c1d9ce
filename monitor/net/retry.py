"""The Retry-After header, read the same way for feeds and for alert channels."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after(value: str | None, now: datetime | None = None, cap: float = 86_400) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or
    garbage. Capped (a day by default): a server cannot park us for longer."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, cap))
