"""A cursor is read back only as the server wrote it, for the list it was written for; any other
text is a UsageError (a 400), never a statement the archive fails on."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from monitor.errors import UsageError
from monitor.serve.cursors import List, read_cursor, write_cursor

MOMENT = datetime(2026, 1, 6, 9, 30, 0, 123456, tzinfo=UTC)
GENUINE = write_cursor(datetime(2026, 1, 6, 9, 30, tzinfo=UTC), "id0>?~", of="alerts")  # - and _


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("of", ["articles", "alerts"])
def test_a_cursor_comes_back_as_written(of: List) -> None:
    assert read_cursor(write_cursor(MOMENT, "a00012", of=of), of=of) == (MOMENT, "a00012")
    assert read_cursor(None, of=of) is None and read_cursor("", of=of) is None


@pytest.mark.parametrize(
    "forged",
    [
        # Found by a review: each reached the archive, a 500 or a 503 blaming it.
        _encoded('["2026-01-06T09:30:00+00:00", "\\ud800"]'),  # a lone surrogate
        _encoded("[" * 1500),  # json.loads recursed
        _encoded('["9999-12-31T23:59:59-23:59", "x"]'),  # past year 9999 in UTC
        _encoded('["0001-01-01T00:00:00+14:00", "x"]'),  # before year 1 in UTC
        _encoded('["2026-01-06T09:30:00+00:00", "a\\u0000b"]'),  # PostgreSQL refuses a NUL
        _encoded('["0999-01-01T00:00:00+00:00", "x"]'),  # SQLite compares four-digit years
        _encoded('["2026-01-06T09:30:00", "x"]'),  # no zone
        _encoded('["2026-01-06T09:30:00+00:00", 12]'),
        _encoded('{"a": 1}'),
        _encoded('["2026-01-06T09:30:00+00:00"]'),
        "not-a-cursor",
        "A" * 5000,
        # Found by a third review: read as cursors, though no server writes them so.
        _encoded('["2026-01-06T09:30:00\\u0000+00:00", "x"]'),  # fromisoformat took the NUL
        _encoded('["20260106T093000Z", "x"]'),  # another of ISO 8601's forms
        _encoded('["2026-01-06 09:30:00+00:00", "x"]'),
        _encoded(' ["2026-01-06T09:30:00+00:00", "x"] '),
        base64.urlsafe_b64encode('["2026-01-06T09:30:00+00:00", "x"]'.encode("utf-16")).decode(),
        GENUINE[:10] + "!!!!" + GENUINE[10:],  # skipped by base64
        GENUINE[:8] + "====" + GENUINE[8:],
        GENUINE + "==",
        GENUINE.replace("_", "/").replace("-", "+"),
    ],
)
def test_a_forged_cursor_is_refused(forged: str) -> None:
    lists: tuple[List, ...] = ("articles", "alerts")
    for of in lists:
        with pytest.raises(UsageError, match="is not one this server gave"):
            read_cursor(forged, of=of)


def test_one_lists_cursor_does_not_page_another() -> None:
    """Found by a review: an articles' cursor given to the alerts answered an empty page."""
    with pytest.raises(UsageError):
        read_cursor(write_cursor(MOMENT, "a1", of="articles"), of="alerts")
    with pytest.raises(UsageError):
        read_cursor(write_cursor(MOMENT, "a1", of="alerts"), of="articles")
    # The articles' cursors written before the alerts had any are still read.
    older = _encoded(json.dumps([MOMENT.isoformat(), "a1"]))
    assert read_cursor(older) == (MOMENT, "a1")
