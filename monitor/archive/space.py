"""Whether the disk under a SQLite archive has room left: on a full disk the daemon cannot record
anything, not even its own failure, so the commands that read the archive say it themselves."""

from __future__ import annotations

import os
from pathlib import Path

LOW_SPACE = 1024 * 1024  # bytes: less than this free, SQLite fails to grow its WAL or the file


def disk_full_warning(url: str) -> str | None:
    """A line for the operator when the archive's file system has (almost) no space left."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return None
    free = stats.f_bavail * stats.f_frsize
    if free >= LOW_SPACE:
        return None
    return (
        f"the disk of the archive {path} is full ({free:,} bytes free): nothing new can be "
        "stored, and sources show their state before it filled up; free some space"
    )
