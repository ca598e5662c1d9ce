"""`monitor alerts` and `monitor alerts retry`: the alert history, and sending again."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.archive import Archive
from monitor.cli.output import show
from monitor.errors import UsageError
from monitor.models import AlertState
from monitor.phrases import RETRY_LEFT_ALONE, counted
from monitor.queries import alert_history


def retry_alerts_command(archive: Archive, ids: list[str], failed: bool) -> int:
    if not ids and not failed:
        raise UsageError("give alert ids (see monitor alerts --format json) or --failed")
    missing = archive.outbox.missing_alerts(ids)
    if missing:
        listed = ", ".join(map(repr, missing))
        raise UsageError(f"no alert with the id {listed} (see monitor alerts --format json)")
    count = archive.outbox.retry_alerts(ids, failed, datetime.now(UTC))
    print(f"{counted(count, 'alert')} queued again; the daemon or the next monitor once sends them")
    left = len(set(ids)) - count
    if not failed and left:  # sent and held ones are left alone
        print(f"{left} of the alerts given {'was' if left == 1 else 'were'} {RETRY_LEFT_ALONE}")
    return 0


def alerts_command(archive: Archive, limit: int, fmt: str, state: str | None = None) -> int:
    if limit < 1:
        raise UsageError(f"--limit {limit}: give 1 or more")
    records, _ = alert_history(archive, limit, AlertState(state) if state else None)
    columns = (
        "id",
        "created",
        "alert",
        "channel",
        "rules",
        "article",
        "state",
        "attempts",
        "next_attempt",
        "last_error",
    )
    show(records, columns, fmt)
    return 0
