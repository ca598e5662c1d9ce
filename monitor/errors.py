"""The exceptions the monitor raises, all under one root.

MonitorError
├── ConfigError          the YAML file is missing, unreadable or invalid (lists every problem)
├── QueryError           a watch rule or search query does not parse (carries the position)
├── FetchError           an HTTP fetch failed (carries the URL)
│   └── TooLargeError    the body exceeded the size cap
├── ParseError           a feed or page could not be turned into records (carries the URL)
├── ArchiveError         the archive cannot be opened or is of an unknown schema
├── SearchTooSlow        a search of the read side ran past its time limit and was stopped
├── NotifyError          an alert channel refused or could not be reached
├── OpmlError            an OPML file to import is not readable OPML
├── ConfigEditError      `sources add|import` cannot edit the config file safely (nothing written)
└── DaemonRunningError   another daemon already runs on this SQLite archive (names its PID and host)
"""

from __future__ import annotations

import math
import unicodedata


class MonitorError(Exception):
    """Root of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: invalid configuration\n{lines}")


class QueryError(MonitorError):
    SHOWN = 100  # characters of a long line shown around the position

    def __init__(self, query: str, position: int, message: str) -> None:
        self.query = query
        self.position = position
        self.message = message
        line, column = self._line_and_column()
        where = f"line {line}, column {column + 1}" if "\n" in query else f"position {position + 1}"
        super().__init__(f"{message} at {where}")

    def _line_and_column(self) -> tuple[int, int]:
        before = self.query[: self.position]
        return before.count("\n") + 1, self.position - (before.rfind("\n") + 1)

    def pointer(self) -> str:
        """The query's line holding the offending position, with a caret under it in a
        terminal's columns (a CJK character takes two, a tab stays a tab); of a long line, the
        part around the position."""
        _, column = self._line_and_column()
        line = self.query[self.position - column :].split("\n", 1)[0]
        if len(line) > self.SHOWN:
            first = max(0, min(column - self.SHOWN // 2, len(line) - self.SHOWN))
            last = first + self.SHOWN
            column -= first - (1 if first else 0)
            line = ("…" if first else "") + line[first:last] + ("…" if last < len(line) else "")
        padding = "".join("\t" if char == "\t" else " " * _columns(char) for char in line[:column])
        return f"{line}\n{padding}^"


def _columns(char: str) -> int:
    """The columns a terminal gives a character: two for a wide one, none for a combining mark."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class UsageError(MonitorError):
    """Bad command-line usage (exit 2)."""


class FetchError(MonitorError):
    def __init__(
        self, url: str, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.url = url
        self.reason = message  # without the URL
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429, 503)
        super().__init__(f"{message} ({url})")


class TooLargeError(FetchError):
    pass


class ParseError(MonitorError):
    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class ArchiveError(MonitorError):
    pass


class ArchiveGone(ArchiveError):
    """The archive this process opened is no longer where it was (its SQLite file deleted,
    moved or replaced): a daemon stops rather than write where no one will read."""


class SearchTooSlow(MonitorError):
    """A search stopped at its time limit: the archive is fine, the query asks too much of it."""

    NARROW = (
        "narrow it with whole words rather than a short prefix, a date range, a source or a rule "
        "(a query of NOT alone reads every article)"
    )

    def __init__(self, seconds: float, advice: str = NARROW, waited: bool = False) -> None:
        self.seconds = seconds
        self.waited = waited  # it was stopped waiting for the processor: the query is not to blame
        super().__init__(f"the search ran longer than {seconds:g} s and was stopped: {advice}")


class ServerBusy(SearchTooSlow):
    """A heavy search (prefixes, or one reading many articles), or a count, not run: the
    server was busy with others. `retry_after`: in whole seconds, when asking again may find a
    turn (HTTP's Retry-After)."""

    def __init__(self, reason: str, counting: bool = False, retry_after: float = 1.0) -> None:
        self.seconds = 0.0
        self.retry_after = max(1, math.ceil(retry_after))
        self.reason = reason
        if counting:
            self.busy = "counting for other requests (the rules' matches, the sources' activity)"
            advice = "try again shortly"
        else:
            self.busy = "other heavy searches (prefixes, or searches reading many articles)"
            advice = "try again shortly, or narrow it"
        MonitorError.__init__(self, self.saying(advice))

    def saying(self, advice: str = "try again shortly") -> str:
        """The message with other advice: a page the reader cannot narrow (a rule's) has none."""
        return f"the server is busy with {self.busy} and did not run this one ({self.reason}): {advice}"


class NotifyError(MonitorError):
    def __init__(
        self, channel: str, message: str, retry_after: float | None = None, unreachable: bool = False
    ) -> None:
        self.channel = channel
        self.retry_after = retry_after  # seconds the receiver asked to wait (429, 503)
        self.unreachable = unreachable  # no answer at all (refused, reset, timed out): the channel's state
        super().__init__(f"{channel}: {message}")


class OpmlError(MonitorError):
    """An OPML file that cannot be read."""


class ConfigEditError(MonitorError):
    """The config file cannot be edited safely; the message says why."""


class DaemonRunningError(MonitorError):
    """A second `monitor run` on an SQLite archive that a live daemon holds."""
