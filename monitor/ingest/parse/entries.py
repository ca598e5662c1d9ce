"""What every feed adapter (feedparser's, the lxml fast path, JSON Feed) shares: what a parse
gives, the caps on a feed's size and the shape of a language code."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.language_codes import macrolanguage
from monitor.models import FeedEntry

MAX_ENTRIES = 2000  # entries kept from one feed
MAX_FIELD_CHARS = 200_000  # characters kept of one field


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's title, language and entries.

    The lxml path also gives a digest of every item it read (`digests`): given the previous
    poll's as `seen`, it skips the items that have not changed since (`unchanged` counts them),
    so a feed with five new items out of sixty costs five items' text extraction, not sixty.
    """

    title: str
    language: str | None
    entries: list[FeedEntry]
    digests: tuple[bytes, ...] = ()
    unchanged: int = 0


DIGEST_SIZE = 8  # bytes of an item digest
NO_DIGESTS: frozenset[bytes] = frozenset()


def split_digests(packed: bytes) -> frozenset[bytes]:
    return frozenset(packed[i : i + DIGEST_SIZE] for i in range(0, len(packed), DIGEST_SIZE))


def feed_language(value: object) -> str | None:
    """A declared language as a code (`en_US` -> `en-US`, `cmn-Hans` -> `zh-Hans`), or None when
    there is none."""
    if not isinstance(value, str):
        return None
    return macrolanguage(value[:20])
