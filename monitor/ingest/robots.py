"""robots.txt for article pages (RFC 9309), cached per origin.

A missing robots.txt (4xx) allows everything; one that cannot be fetched (5xx, network error)
disallows everything for a short while, as the RFC asks. Feeds themselves are not checked:
the operator chose them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.egress import EgressPolicy
from monitor.errors import FetchError, MonitorError
from monitor.ingest.fetch import Fetcher

AGENT = "monitor"
KEEP_SECONDS = 24 * 3600
RETRY_SECONDS = 15 * 60
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(slots=True)
class _Entry:
    rules: RobotFileParser | None  # None: everything allowed
    allow_all: bool
    expires: float


class RobotsCache:
    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.loading: dict[str, asyncio.Lock] = {}

    async def allowed(self, fetcher: Fetcher, url: str, policy: EgressPolicy) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self.loading.setdefault(origin, asyncio.Lock()):  # one fetch per origin
            entry = self.entries.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self.entries[origin] = await self._load(fetcher, origin, policy)
        if entry.rules is None:
            return entry.allow_all
        return entry.rules.can_fetch(AGENT, url)

    async def _load(self, fetcher: Fetcher, origin: str, policy: EgressPolicy) -> _Entry:
        now = time.monotonic()
        try:
            response = await fetcher.get(f"{origin}/robots.txt", policy=policy, content=True)
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                return _Entry(None, True, now + KEEP_SECONDS)
            return _Entry(None, False, now + RETRY_SECONDS)
        except MonitorError:
            return _Entry(None, False, now + RETRY_SECONDS)
        rules = RobotFileParser()
        rules.parse(response.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace").splitlines())
        return _Entry(rules, True, now + KEEP_SECONDS)
