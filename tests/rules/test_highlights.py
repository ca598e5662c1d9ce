"""Hits are marked in their snippets where the matcher finds the term: in any of its spellings
and forms, and only there (a review found F35 unmarked under F-35, and a mark on F-35I)."""

from __future__ import annotations

import pytest

from monitor.highlights import html_marked, marked


@pytest.mark.parametrize(
    ("snippet", "term", "expected"),
    [
        (
            "IronDomeSystem was sold; the #IronDome works",
            "Iron Dome",
            "IronDomeSystem was sold; the #<mark>IronDome</mark> works",
        ),
        (
            "F-35I Adir and the F 35 and F35",
            "F-35",
            "F-35I Adir and the <mark>F 35</mark> and <mark>F35</mark>",
        ),
        ("הופעלה בכיפת ברזל", "כיפת ברזל", "הופעלה <mark>בכיפת ברזל</mark>"),
        ("以色列的鐵穹系統", "铁穹", "以色列的<mark>鐵穹</mark>系統"),
        (
            "the Iron-Dome <b>battery</b>",
            "Iron Dome",
            "the <mark>Iron-Dome</mark> &lt;b&gt;battery&lt;/b&gt;",
        ),
        ("weapons and weaponry", "weapon*", "<mark>weapons</mark> and <mark>weaponry</mark>"),
        ("a NOT b", "NOT", "a <mark>NOT</mark> b"),  # a terms list's literal word, not the operator
        ("x (y", '(y"', "x (<mark>y</mark>"),  # a terms list's literal: its word
        # A second review: a terms list's entries are literal (`C*` is the word c).
        ("Cats chase C* operators and cars", "C*", "Cats chase <mark>C</mark>* operators and cars"),
        (
            "Operation Iron Swords continues",
            'Operation "Iron Swords"',
            "<mark>Operation Iron Swords</mark> continues",
        ),
        (
            "The Iron Dome and Iron and the dome",
            'The "Iron" Dome',
            "<mark>The Iron Dome</mark> and Iron and the dome",
        ),
    ],
)
def test_marks_where_the_matcher_finds_the_term(snippet: str, term: str, expected: str) -> None:
    assert html_marked(snippet, term) == expected


def test_plain_marks_leave_the_text_as_it_is() -> None:
    assert marked("S400 <x> S-400", "S-400", lambda found: f"»{found}«") == "»S400« <x> »S-400«"
    assert marked("no term here", "", lambda found: f"»{found}«") == "no term here"
