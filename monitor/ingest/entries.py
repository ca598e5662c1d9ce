"""What every feed adapter (feedparser's, the lxml fast path, JSON Feed) shares: the caps on a
feed's size and the shape of a language code."""

from __future__ import annotations

MAX_ENTRIES = 2000  # entries kept from one feed
MAX_FIELD_CHARS = 200_000  # characters kept of one field


def feed_language(value: object) -> str | None:
    """A declared language as a code (`en_US` -> `en-US`), or None when there is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().replace("_", "-")[:20]
