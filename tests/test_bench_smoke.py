"""Each benchmark runs at a tiny size in the test suite, so `make bench` cannot rot."""

from __future__ import annotations

from bench import stories
from bench.match import measure, table


def test_match_benchmark_smoke() -> None:
    rows, megabytes, norm_ours, norm_bare = measure(article_count=3, rule_counts=[10, 50], seconds=0.01)
    assert [row.rules for row in rows] == [10, 50]
    assert all(row.ours > 0 and row.regex > 0 and row.raw > 0 for row in rows)
    assert megabytes > 0 and norm_ours > 0 and norm_bare > 0
    assert "| 50 |" in table(rows, megabytes, norm_ours, norm_bare)


def test_stories_benchmark_smoke() -> None:
    copies, rows = stories.measure(families=3, thresholds=(0.5,))
    [(threshold, precision, recall, milliseconds)] = rows
    assert threshold == 0.5 and 0 <= precision <= 1 and 0 <= recall <= 1 and milliseconds > 0
    assert "0.5 (default)" in stories.table(copies, rows)  # type: ignore[arg-type]
