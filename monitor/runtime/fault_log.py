"""The daemon's log of archive faults: a fault is said once a minute while it lasts, however
many jobs and polls meet it. An archive out of reach fails every job of every tick (claiming
due sources, claiming alerts, each poll), each naming its own operation: told apart by their
whole message, they took turns and filled the log with a line a second."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FAULT_REPEAT = 60.0  # seconds between two log lines of the same archive fault
MOST_FAULTS_KEPT = 64


class FaultLog:
    """When each fault (by its cause: the driver's error, whatever operation met it) was last
    logged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.logged: dict[str, float] = {}

    def report(self, message: str, error: BaseException) -> bool:
        """Log `message` at ERROR unless `error`'s cause was logged within FAULT_REPEAT; whether
        it was logged."""
        cause, now = root_cause(error), self.clock()
        last = self.logged.get(cause)
        if last is not None and now - last < FAULT_REPEAT:
            return False
        if len(self.logged) >= MOST_FAULTS_KEPT:  # causes naming a row or a time each: forget the oldest
            del self.logged[min(self.logged, key=self.logged.__getitem__)]
        self.logged[cause] = now
        log.error("%s", message)
        return True


def root_cause(error: BaseException) -> str:
    """The first line of the innermost error `error` was raised from (the driver's)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__
