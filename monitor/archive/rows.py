"""Archive rows <-> model records."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Row

from monitor.models import AlertRecord, AlertState, SourceState


def source_state_from(row: Row[Any]) -> SourceState:
    return SourceState(
        name=row.name,
        url=row.url,
        next_due=row.next_due,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetch=row.last_fetch,
        last_status=row.last_status,
        last_error=row.last_error,
        consecutive_errors=row.consecutive_errors,
        failing_since=row.failing_since,
        moved_to=row.moved_to,
        body_hash=row.body_hash,
        last_full_fetch=row.last_full_fetch,
        interval=timedelta(seconds=row.interval_seconds) if row.interval_seconds else None,
        entry_digests=row.entry_digests or b"",
    )


def alert_from(row: Row[Any]) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        alert=row.alert,
        channel=row.channel,
        story=row.story,
        article_id=row.article_id,
        rules=tuple(json.loads(row.rules)),
        state=AlertState(row.state),
        attempts=row.attempts,
        created=row.created,
        next_attempt=row.next_attempt,
        last_error=row.last_error,
        sent=row.sent,
    )
