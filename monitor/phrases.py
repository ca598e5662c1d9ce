"""Counts in words, for the command line and the daemon's log alike; what the command line and
the pages both say."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str = "") -> str:
    """'1 source', '2 sources': a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


# Why a retry left an alert as it was (`monitor alerts retry`, the alerts page's Retry).
RETRY_LEFT_ALONE = "sent already or held until its digest, throttle or quiet hours let it go: not sent now"
