"""JSON Lines channel: append one JSON object per alert to a file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from monitor.alerts import channel_key
from monitor.errors import NotifyError


class JsonlNotifier:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = channel_key("jsonl", str(path))

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        line = json.dumps({**payload, "idempotency_key": idempotency_key}, ensure_ascii=False)
        try:
            await asyncio.to_thread(self._append, line + "\n")
        except OSError as error:
            raise NotifyError(self.key, f"cannot write: {error}") from None

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    async def close(self) -> None:
        return None
