"""Names a user gives (on the command line, in a request) checked against the configured ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.errors import UsageError


def known_names(given: Sequence[str], known: Iterable[str], what: str) -> tuple[str, ...]:
    """The names as configured (matched without regard to case); UsageError, listing the known
    ones, for a name that is not one of them."""
    by_folded = {name.casefold(): name for name in known}
    unknown = [name for name in given if name.casefold() not in by_folded]
    if unknown:
        names = sorted(by_folded.values())
        listing = ", ".join(map(repr, names[:30])) + (
            f" and {len(names) - 30} more" if len(names) > 30 else ""
        )
        raise UsageError(f"no {what} named {', '.join(map(repr, unknown))} (known: {listing or 'none'})")
    return tuple(by_folded[name.casefold()] for name in given)
