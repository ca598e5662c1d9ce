"""`monitor sources` (the listing): each configured source with its health."""

from __future__ import annotations

from monitor.archive import Archive
from monitor.cli.output import show
from monitor.config.settings import Settings
from monitor.queries import source_health


def sources_command(archive: Archive, settings: Settings, fmt: str) -> int:
    """Each configured source's health, in the config's order; one not polled yet shows as new."""
    records = source_health(archive, settings)
    columns = ("name", "status", "last_fetch", "consecutive_errors", "next_due", "last_error")
    show(records, columns, fmt)
    return 0
