"""Alert delivery: the outbox dispatcher and one small module per channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from hashlib import sha256
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

SENDS_PER_CHANNEL = 4  # in flight at once to one channel; channels never wait for each other
T = TypeVar("T")


class Notifier(Protocol):
    """A channel. `send` raises NotifyError when the message was not accepted."""

    key: str
    deadline: float  # seconds one send may take in all, whatever its steps' own timeouts

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None: ...

    async def close(self) -> None: ...


def channel_key(kind: str, target: str) -> str:
    """A stable name for a channel that shows where it goes but never its secrets."""
    parts = urlsplit(target)
    shown = target
    if parts.scheme and parts.hostname:
        try:
            port = parts.port
        except ValueError:  # not a port: an Apprise URL's token (tgram://123:ABC/chat)
            port = None
        shown = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
    return f"{kind}:{shown}#{sha256(target.encode()).hexdigest()[:8]}"


class ChannelThreads:
    """A channel's own threads for its blocking steps (rendering templates, SMTP, Apprise, file
    writes). A send abandoned at its deadline may keep its thread a while; with a pool per
    channel, a channel that hangs fills its own pool, never the loop's default one, which
    archive writes and matching need."""

    def __init__(self, name: str, size: int = SENDS_PER_CHANNEL) -> None:
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(function, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
