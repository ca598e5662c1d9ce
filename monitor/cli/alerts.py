"""`monitor alerts` and `monitor alerts retry`: the alert history, and sending again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.archive import Archive
from monitor.cli.output import render
from monitor.errors import UsageError
from monitor.models import AlertState
from monitor.payloads import iso
from monitor.phrases import counted


def retry_alerts_command(archive: Archive, ids: list[str], failed: bool) -> int:
    if not ids and not failed:
        raise UsageError("give alert ids (see monitor alerts --format json) or --failed")
    missing = archive.outbox.missing_alerts(ids)
    if missing:
        listed = ", ".join(map(repr, missing))
        raise UsageError(f"no alert with the id {listed} (see monitor alerts --format json)")
    count = archive.outbox.retry_alerts(ids, failed, datetime.now(UTC))
    print(f"{counted(count, 'alert')} queued again; the daemon or the next monitor once sends them")
    return 0


def alerts_command(archive: Archive, limit: int, fmt: str) -> int:
    records: list[dict[str, Any]] = []
    for row in archive.outbox.alerts(limit):
        found = archive.article(row.article_id)
        records.append(
            {
                "id": row.id,
                "created": iso(row.created),
                "alert": row.alert,
                "channel": row.channel,
                "rules": list(row.rules),
                "article": found.article.title if found else row.article_id,
                "url": found.article.url if found else None,
                "state": row.state.value,
                "attempts": row.attempts,
                # When a pending row is tried again, or a held one released (quiet hours, throttle).
                "next_attempt": iso(row.next_attempt)
                if row.state in (AlertState.PENDING, AlertState.HELD)
                else None,
                "last_error": row.last_error,
            }
        )
    columns = (
        "id",
        "created",
        "alert",
        "rules",
        "article",
        "state",
        "attempts",
        "next_attempt",
        "last_error",
    )
    print(render(records, columns, fmt))
    return 0
