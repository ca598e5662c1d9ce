"""The cursor of a page: the last item shown (a search's article: its publication time and id;
an alert: its creation and id), opaque to clients (base64 of JSON), checked when it comes back.

A cursor names its list, so one list's cannot page another (an articles' cursor given to the
alerts answered an empty page). The articles' cursors, older than the alerts', name none."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Literal

from monitor.errors import UsageError
from monitor.moments import EARLIEST_YEAR, LATEST_YEAR

List = Literal["articles", "alerts"]
LONGEST = 2_000  # characters of a cursor: an id and a moment take a few hundred at most


def write_cursor(moment: datetime, item_id: str, of: List = "articles") -> str:
    written = [moment.isoformat(), item_id] + ([] if of == "articles" else [of])
    return base64.urlsafe_b64encode(json.dumps(written).encode()).decode().rstrip("=")


def read_cursor(cursor: str | None, of: List = "articles") -> tuple[datetime, str] | None:
    """The moment and id a cursor of the list `of` holds; UsageError for any other text (a
    forged one must not reach the archive: a lone surrogate or a NUL in its id, a moment out
    of the archive's range or one that overflows in UTC were 500s, or 503s blaming it)."""
    if not cursor:
        return None
    refused = UsageError(f"cursor {cursor!r} is not one this server gave")
    if len(cursor) > LONGEST:
        raise refused  # nor is it parsed: nested brackets recurse
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(parts, list) or parts[2:] != ([] if of == "articles" else [of]):
            raise ValueError("another list's cursor")
        written, item_id = parts[:2]
        moment = datetime.fromisoformat(written)
        if moment.tzinfo is None:
            raise ValueError("a time without its zone")
        moment = moment.astimezone(UTC)
        if (
            not isinstance(item_id, str)
            or "\x00" in item_id
            or not EARLIEST_YEAR <= moment.year <= LATEST_YEAR
        ):
            raise ValueError("not an id or a moment the archive holds")
        item_id.encode()  # a lone surrogate: UnicodeEncodeError, a ValueError
        if write_cursor(datetime.fromisoformat(written), item_id, of) != cursor:
            # As written, or not at all: base64 that skips stray characters, JSON in UTF-16,
            # a moment in another of ISO 8601's forms or holding a NUL were read as one.
            raise ValueError("not as this server writes it")
        return moment, item_id
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise refused from None
