"""JSON Lines channel: append one JSON object per alert to a file, whole lines or nothing."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from monitor.alerts import ChannelThreads, Notifier, channel_key
from monitor.alerts.channel import ChannelContext, ChannelSettings
from monitor.errors import NotifyError

_TAIL_CHUNK = 4096


class JsonlNotifier:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = channel_key("jsonl", str(path))
        self.deadline = 30.0
        self.threads = ChannelThreads("jsonl")

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        line = json.dumps({**payload, "idempotency_key": idempotency_key}, ensure_ascii=False)
        try:
            await self.threads.run(self._append, (line + "\n").encode("utf-8"))
        except OSError as error:
            raise NotifyError(self.key, f"cannot write: {error}") from None

    def _append(self, line: bytes) -> None:
        """Append the line, or leave the file as it was: a write cut short (disk full, a size
        limit) is truncated away, and so is a fragment an earlier crash left at the end, so a
        reader always finds one alert per line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one writer at a time, threads and processes alike
            complete = _end_of_last_line(fd)
            os.ftruncate(fd, complete)
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, complete)
                raise
        finally:
            os.close(fd)

    async def close(self) -> None:
        self.threads.close()


def _end_of_last_line(fd: int) -> int:
    """The offset just past the file's last newline (0 if none): where whole lines end."""
    end = os.fstat(fd).st_size
    position = end
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        chunk = os.pread(fd, position - start, start)
        if position == end and chunk.endswith(b"\n"):
            return end
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


class JsonlChannel(ChannelSettings):
    """`jsonl: PATH` (relative to the config file's folder)."""

    kind: ClassVar[str] = "jsonl"
    jsonl: str = Field(min_length=1)

    def problem(self, resolve: Callable[[str], Path]) -> str | None:
        path = resolve(self.jsonl)
        return None if _can_create(path) else f"cannot write {path} (its folder cannot be created there)"

    def notifier(self, context: ChannelContext) -> Notifier:
        return JsonlNotifier(context.resolve(self.jsonl))


def _can_create(path: Path) -> bool:
    """Whether the file can be written: its folder exists, or the nearest existing one is ours to
    create it in."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK)
