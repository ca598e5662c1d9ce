"""Durations as the config writes them: 30s, 15m, 1h, 1d, 2w (and combinations like 1h30m)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse '15m' or '1h30m'; a bare number is seconds. Raises ValueError on anything else."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return bounded_duration(text, float(cleaned))
    position = 0
    seconds = 0.0
    for part in _PART.finditer(cleaned):
        if part.start() != position:
            break
        seconds += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position = part.end()
    if position != len(cleaned) or not cleaned:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 15m, 1h, 1d)")
    return bounded_duration(text, seconds)


class DurationTooLong(ValueError):
    """A duration that is written right but cannot be kept (beyond timedelta's range)."""


def bounded_duration(text: str, seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationTooLong(f"{text!r} is longer than any duration the monitor can keep") from None


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
