"""`monitor sources` (the listing): each configured source with its health."""

from __future__ import annotations

from typing import Any

from monitor.archive import Archive
from monitor.cli.output import render
from monitor.config.durations import format_duration
from monitor.config.settings import Settings
from monitor.models import PollResult, SourceState
from monitor.payloads import iso


def sources_command(archive: Archive, settings: Settings, fmt: str) -> int:
    """Each configured source's health, in the config's order; one not polled yet shows as new."""
    states = {state.name: state for state in archive.source_states()}
    records = [_health(source.name, source.url, states.get(source.name)) for source in settings.sources]
    columns = ("name", "status", "last_fetch", "consecutive_errors", "next_due", "last_error")
    print(render(records, columns, fmt))
    return 0


def _health(name: str, url: str, state: SourceState | None) -> dict[str, Any]:
    if state is None:  # added to the config since the daemon started (it reads the config once)
        status = "new: not polled yet"
    elif state.last_fetch is None:
        status = "never fetched"
    else:
        status = _status(state)
    return {
        "name": name,
        "url": state.url if state else url,
        "moved_to": state.moved_to if state else None,
        "status": status,
        "interval": format_duration(state.interval) if state and state.interval else None,
        "last_fetch": iso(state.last_fetch) if state else None,
        "consecutive_errors": state.consecutive_errors if state else 0,
        "next_due": iso(state.next_due) if state else None,
        "last_error": state.last_error if state else None,
    }


def _status(state: SourceState) -> str:
    result = state.last_status.result if state.last_status else None
    if result is PollResult.GONE:
        return "gone: polling stopped"
    if result is PollResult.INTERNAL_ERROR:
        return f"INTERNAL ERROR (the monitor's fault) since {iso(state.failing_since)}"
    if result is PollResult.ARCHIVE_ERROR:
        return f"ARCHIVE ERROR (not the source's) since {iso(state.failing_since)}"
    if state.consecutive_errors:
        return f"failing since {iso(state.failing_since)}"
    return str(state.last_status or PollResult.OK)
