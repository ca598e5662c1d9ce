"""The moments a reader gives the read side (`since`, `until`, `--since`): a duration back from
now, a date or a moment, as typed in any script, checked with a message naming the option."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from monitor.config.durations import parse_duration
from monitor.errors import UsageError

EARLIEST_YEAR, LATEST_YEAR = 1000, 9998


# A moment's offset whose + an address sent unescaped: its query reads a + as a space.
_LOST_PLUS = re.compile(r"\d \d\d(?::?\d\d)?$")
_PLUS_HINT = "; in an address a + is written %2B (a + alone is read as a space)"


def moment(text: str | None, option: str, now_allowed: bool = False) -> datetime | None:
    """A duration back from now (7d, 24h) or a date (2026-01-06, UTC unless it says), as asked
    for by `option`; UsageError naming it otherwise, and for no time back (0d: a `since` of now
    finds nothing) unless `now_allowed`."""
    if not text or not text.strip():
        return None
    given, text = text, _as_typed(text)
    wrong = UsageError(
        f"{option} {given!r}: give a duration (7d, 24h), a date (2026-01-06) or a moment "
        f"(2026-01-06T09:30, UTC unless it says: Z, +09:00)"
        f"{_PLUS_HINT if _LOST_PLUS.search(text) and not option.startswith('-') else ''}"
    )
    try:
        # 20260106 is ISO 8601's date, not 20 million seconds.
        back = None if text.isdigit() else parse_duration(text)
        if back is not None and not back and not now_allowed:
            raise UsageError(f"{option} {given!r} is no time back from now: give one (24h, 7d) or a date")
        value = datetime.fromisoformat(text) if back is None else datetime.now(UTC) - back
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise wrong from None
    except OverflowError:
        value = datetime.min
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        value = datetime.min.replace(tzinfo=UTC)
    # The archive compares dates as text on SQLite, which holds for four-digit years only.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise UsageError(f"{option} {given!r}: give a date from {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


def until_moment(text: str | None, option: str = "until") -> datetime | None:
    """The last moment an `until` takes in: a date alone, its whole day (until=2026-01-10 takes
    in the 10th, as a reader means, and the day's articles whether a feed gave their time or
    only their date, stored at midnight); a moment itself. UsageError as moment()."""
    value = moment(text, option, now_allowed=True)
    if value is not None and text is not None and _date_alone(text):
        value += timedelta(days=1, microseconds=-1)
    return value


def _as_typed(text: str) -> str:
    """A date or duration as a person meant it: full-width and other scripts' digits as ASCII
    (２０２６, ٢٠٢٦), invisible marks a paste brings (a byte-order mark, a zero-width space)
    and surrounding spaces dropped."""
    kept = "".join(each for each in unicodedata.normalize("NFKC", text) if unicodedata.category(each) != "Cf")
    return "".join(str(unicodedata.decimal(each, each)) if each.isdigit() else each for each in kept).strip()


def _date_alone(text: str) -> bool:
    try:
        date.fromisoformat(_as_typed(text))
    except ValueError:
        return False
    return True
