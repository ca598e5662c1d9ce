"""Alert delivery: the outbox dispatcher and one small module per channel."""

from __future__ import annotations

from hashlib import sha256
from typing import Any, Protocol
from urllib.parse import urlsplit


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
        shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return f"{kind}:{shown}#{sha256(target.encode()).hexdigest()[:8]}"
