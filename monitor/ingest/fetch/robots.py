"""robots.txt for article pages (RFC 9309), cached per origin.

A missing robots.txt (4xx) allows everything; one that cannot be fetched (5xx, network error)
disallows everything for a short while, as the RFC asks, and is tried again after it. Feeds
themselves are not checked: the operator chose them. Why a page is not read is said as it is:
"robots.txt disallows" only when a robots.txt was read and disallows it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.errors import FetchError, MonitorError
from monitor.ingest.fetch.client import Fetcher
from monitor.net.egress import EgressPolicy

log = logging.getLogger(__name__)
AGENT = "monitor"
KEEP_SECONDS = 24 * 3600
RETRY_SECONDS = 15 * 60
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(slots=True)
class _Entry:
    rules: RobotFileParser | None  # None: everything allowed, or nothing (see `unreachable`)
    unreachable: str | None  # why robots.txt could not be read: nothing is allowed meanwhile
    expires: float


class RobotsCache:
    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.loading: dict[str, asyncio.Lock] = {}

    async def refusal(self, fetcher: Fetcher, url: str, policy: EgressPolicy) -> str | None:
        """None when robots.txt lets the page be fetched; else why it may not be, now."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self.loading.setdefault(origin, asyncio.Lock()):  # one fetch per origin
            entry = self.entries.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self.entries[origin] = await self._load(fetcher, origin, policy)
        if entry.unreachable is not None:
            return f"robots.txt could not be read ({entry.unreachable}); tried again in 15 min"
        if entry.rules is None or entry.rules.can_fetch(AGENT, url):
            return None
        return "robots.txt disallows the page"

    async def _load(self, fetcher: Fetcher, origin: str, policy: EgressPolicy) -> _Entry:
        now = time.monotonic()
        try:
            response = await fetcher.get(f"{origin}/robots.txt", policy=policy, content=True)
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                return _Entry(None, None, now + KEEP_SECONDS)
            return self._unreachable(origin, error, now)
        except MonitorError as error:
            return self._unreachable(origin, error, now)
        rules = RobotFileParser()
        rules.parse(response.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace").splitlines())
        return _Entry(rules, None, now + KEEP_SECONDS)

    def _unreachable(self, origin: str, error: MonitorError, now: float) -> _Entry:
        reason = error.reason if isinstance(error, FetchError) else str(error)
        log.warning(
            "%s/robots.txt could not be read (%s): its article pages wait %d min (RFC 9309)",
            origin, reason, RETRY_SECONDS // 60,
        )  # fmt: skip
        return _Entry(None, reason, now + RETRY_SECONDS)
