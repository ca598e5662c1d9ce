"""Names a user gives, looked up without regard to case."""

from __future__ import annotations

import pytest

from monitor.errors import UsageError
from monitor.names import known_names


def test_a_name_is_found_whatever_its_case_and_given_as_known() -> None:
    assert known_names(["iron dome", "STRASSE"], ["Iron Dome", "Straße"], "watch rule") == (
        "Iron Dome",
        "Straße",
    )


def test_a_name_stands_for_every_known_spelling_that_differs_only_in_case() -> None:
    # A source renamed Local -> LOCAL keeps its older articles under the old spelling: a filter
    # by either takes both, the same way in every process (a set's order varies with the hash seed).
    for known in ({"Local", "LOCAL", "Other"}, ["LOCAL", "Other", "Local"], ["Local", "LOCAL"]):
        assert known_names(["LOCAL"], known, "source") == ("LOCAL", "Local")
        assert known_names(["local", "Local"], known, "source") == ("LOCAL", "Local")


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"no source named 'Nope' \(known: 'A', 'b'\)"):
        known_names(["Nope"], ["b", "A"], "source")


def test_one_name_whatever_its_unicode_form() -> None:
    # Precomposed or with a combining accent, full-width or not: one name to a reader.
    assert known_names(["Cafe\u0301", "ｎｈｋ"], ["Café", "NHK"], "source") == ("Café", "NHK")
