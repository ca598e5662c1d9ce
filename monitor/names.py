"""Names a user gives (on the command line, in a request) checked against the configured ones."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from monitor.errors import UsageError


@lru_cache(maxsize=1 << 16)  # the same few thousand names, at every search with a source
def name_key(name: str) -> str:
    """What makes two names the same name: their case and their Unicode form aside (`Café`
    precomposed or with a combining accent, full-width letters, `Straße` and `STRASSE`)."""
    return unicodedata.normalize("NFKC", name).casefold()


def known_names(given: Sequence[str], known: Iterable[str], what: str) -> tuple[str, ...]:
    """The names as known, each matched without regard to case or Unicode form (name_key);
    UsageError, listing the known ones, for a name that is not one of them. Where several known
    names differ only so (a source renamed `Local` to `LOCAL` has articles under both in the
    archive; the config allows no two), a given name stands for all of them, in order."""
    unique = set(known)
    first = {name_key(name): name for name in unique}
    spellings: dict[str, list[str]] = {}  # of the keys with more than one: rare, found only then
    if len(first) < len(unique):
        for name in unique:
            spellings.setdefault(name_key(name), []).append(name)
    unknown = [name for name in given if name_key(name) not in first]
    if unknown:
        raise UsageError(f"no {what} named {', '.join(map(repr, unknown))} (known: {name_listing(unique)})")
    keys = [name_key(name) for name in given]
    return tuple(dict.fromkeys(name for key in keys for name in sorted(spellings.get(key, [first[key]]))))


def name_listing(names: Iterable[str], shown: int = 30) -> str:
    """Names for a message, sorted, the first `shown` of them: 'A', 'B' and 12 more."""
    ordered = sorted(set(names))
    listing = ", ".join(map(repr, ordered[:shown]))
    more = len(ordered) - shown
    return (listing + (f" and {more} more" if more > 0 else "")) or "none"
