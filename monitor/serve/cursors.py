"""The cursor of a page of search results: the last article shown (its publication time and id),
opaque to clients (base64 of JSON), checked when it comes back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from monitor.errors import UsageError


def write_cursor(published: datetime, article_id: str) -> str:
    text = json.dumps([published.isoformat(), article_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        published, article_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(published)
        if moment.tzinfo is None:
            raise ValueError("a time without its zone")
        return moment, str(article_id)
    except (ValueError, TypeError, binascii.Error):
        raise UsageError(f"cursor {cursor!r} is not one this server gave (next_cursor)") from None
