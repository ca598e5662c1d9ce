"""What every feed adapter (feedparser's, the lxml fast path, JSON Feed) shares: what a parse
gives, the caps on a feed's size and the shape of a language code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from monitor.ingest.parse.normalize import canonical_url
from monitor.language_codes import macrolanguage
from monitor.models import LINKLESS_FRAGMENT, FeedEntry

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


def with_shared_pages(
    entries: list[FeedEntry], marks: Iterable[tuple[str, str]] | None = None
) -> list[FeedEntry]:
    """The entries, those whose link is a page several of the feed's items link to marked
    `shared_page` (see FeedEntry). `marks` are every item's link and GUID, those of items
    skipped as unchanged too (the entries' own when None): an item alone in a poll is still
    one of many at its page."""
    shared = shared_pages(marks if marks is not None else ((entry.url, entry.guid) for entry in entries))
    if not shared:
        return entries
    return [
        replace(entry, shared_page=True) if canonical_url(entry.url) in shared else entry for entry in entries
    ]


def shared_pages(marks: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The pages (canonical URLs, fragments aside) that items told apart by their links'
    fragments, or by their GUIDs under one link as written, link to: a live blog's posts (#u1,
    #u2, with tracking parameters or not), a blog's archive page of a month's posts, a
    podcast's episodes all linking to its home page. Links that differ but in tracking
    parameters (?utm_source=rss, ?fbclid=), with no fragment, are one article's."""
    fragments: dict[str, set[str]] = {}  # canonical page -> its items' fragments
    guids: dict[str, set[str]] = {}  # link as written, but for its fragment -> its items' GUIDs
    for link, guid in marks:
        if link and LINKLESS_FRAGMENT not in link:
            page = canonical_url(link)
            fragment = link.partition("#")[2]  # as written: a link that does not parse has one too
            if fragment:
                fragments.setdefault(page, set()).add(fragment)
            guids.setdefault(link.split("#", 1)[0], set()).add(guid)
    shared = {page for page, told in fragments.items() if len(told) > 1}
    return frozenset(shared | {canonical_url(link) for link, told in guids.items() if len(told) > 1})
