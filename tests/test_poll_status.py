from __future__ import annotations

import pytest

from monitor.models import PollResult, PollStatus

EVERY_STORED_TEXT = [
    "ok (200)",
    "ok (203)",
    "unchanged (same body)",
    "not modified",
    "error",
    "gone",
    "internal error",
    "archive error",
]


@pytest.mark.parametrize("text", EVERY_STORED_TEXT)
def test_every_status_an_archive_holds_reads_back_as_written(text: str) -> None:
    assert str(PollStatus.parse(text)) == text


def test_a_status_no_version_wrote_reads_as_an_error_that_shows_it() -> None:
    status = PollStatus.parse("moved (elsewhere)")
    assert status.result is PollResult.ERROR and str(status) == "error (moved (elsewhere))"
