"""The dates and durations `since` and `until` take, on the command line, the API and the pages
alike (monitor/queries.py): as a person types or pastes them, and a clear refusal otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import UsageError
from monitor.moments import moment, until_moment
from tests.conftest import Cli

DAY = datetime(2026, 3, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed",
    [
        "2026-03-29",
        " 2026-03-29",  # pasted with a space
        "2026-03-29 \n",
        "２０２６-03-29",  # full-width digits, as a Japanese or Chinese keyboard types them
        "２０２６－０３－２９",
        "\ufeff2026-03-29",  # a byte-order mark a paste brought
        "2026-03-29\u200b",  # a zero-width space
        "٢٠٢٦-٠٣-٢٩",  # Arabic-Indic digits
    ],
)
def test_a_date_as_typed_or_pasted(typed: str) -> None:
    assert moment(typed, "since") == DAY
    assert until_moment(typed) == DAY + timedelta(days=1, microseconds=-1)  # the whole day


def test_a_duration_in_full_width_letters() -> None:
    before = datetime.now(UTC)
    found = moment("7ｄ", "since")
    assert found is not None and before - timedelta(days=7, seconds=5) < found <= before - timedelta(
        days=7
    ) + timedelta(seconds=5)


def test_nothing_but_spaces_is_no_date() -> None:
    assert moment("  ", "since") is None


@pytest.mark.parametrize("typed", ["0d", "0h", "0m0s", "0.0"])
def test_no_time_back_is_refused_as_a_since_and_is_now_as_an_until(typed: str) -> None:
    """A review found `since=0d` a silent empty answer: a since of now finds nothing."""
    with pytest.raises(UsageError) as refused:
        moment(typed, "since")
    assert str(refused.value) == f"since {typed!r} is no time back from now: give one (24h, 7d) or a date"
    found = until_moment(typed)
    assert found is not None and abs(found - datetime.now(UTC)) < timedelta(seconds=5)


def test_an_offset_whose_plus_an_address_lost_is_explained() -> None:
    with pytest.raises(UsageError) as refused:
        moment("2026-03-29T01:00 02:00", "since")  # ?since=2026-03-29T01:00+02:00, the + unescaped
    said = str(refused.value)
    assert said.startswith("since '2026-03-29T01:00 02:00': give a duration (7d, 24h), a date (2026-01-06)")
    assert "a moment (2026-01-06T09:30, UTC unless it says: Z, +09:00)" in said and "%2B" in said
    with pytest.raises(UsageError) as other:
        moment("last week", "since")
    assert "%2B" not in str(other.value)
    with pytest.raises(UsageError) as typed:  # on the command line there is no address
        moment("2026-03-29T01:00 02:00", "--since")
    assert "%2B" not in str(typed.value)


def test_the_command_line_names_its_options(cli: Cli, config: Path) -> None:
    code, _, err = cli("-c", str(config), "search", "dome", "--since", "2026-03-29T01:00 02:00")
    assert code == 2 and "monitor: --since '2026-03-29T01:00 02:00': give a duration" in err, err
    assert "%2B" not in err  # no address here
    code, _, err = cli("-c", str(config), "search", "dome", "--until", "soon")
    assert code == 2 and "--until 'soon'" in err
