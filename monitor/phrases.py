"""Counts in words, for the command line and the daemon's log alike."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str = "") -> str:
    """'1 source', '2 sources': a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"
