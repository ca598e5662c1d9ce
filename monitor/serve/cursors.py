"""The cursor of a page: the last item shown (a search's article: its publication time and id;
an alert: its creation and id), opaque to clients (base64 of JSON), checked when it comes back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from monitor.errors import UsageError


def write_cursor(moment: datetime, item_id: str) -> str:
    text = json.dumps([moment.isoformat(), item_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        written, item_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(written)
        if moment.tzinfo is None:
            raise ValueError("a time without its zone")
        return moment, str(item_id)
    except (ValueError, TypeError, binascii.Error):
        raise UsageError(f"cursor {cursor!r} is not one this server gave") from None
