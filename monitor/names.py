"""Names a user gives (on the command line, in a request) checked against the configured ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.errors import UsageError


def known_names(given: Sequence[str], known: Iterable[str], what: str) -> tuple[str, ...]:
    """The names as known, each matched without regard to case; UsageError, listing the known
    ones, for a name that is not one of them. Where several known names differ only in case (a
    source renamed `Local` to `LOCAL` has articles under both in the archive; the config allows
    no two), a given name stands for all of them, in order."""
    by_folded: dict[str, list[str]] = {}
    for name in sorted(set(known)):
        by_folded.setdefault(name.casefold(), []).append(name)
    unknown = [name for name in given if name.casefold() not in by_folded]
    if unknown:
        names = [name for spelled in by_folded.values() for name in spelled]
        listing = ", ".join(map(repr, names[:30])) + (
            f" and {len(names) - 30} more" if len(names) > 30 else ""
        )
        raise UsageError(f"no {what} named {', '.join(map(repr, unknown))} (known: {listing or 'none'})")
    return tuple(dict.fromkeys(name for asked in given for name in by_folded[asked.casefold()]))
