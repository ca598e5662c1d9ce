"""Each benchmark runs at a tiny size in the test suite, so `make bench` cannot rot."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bench import (
    archive,
    daemons,
    extraction,
    fetching,
    latency,
    listings,
    memory,
    parsing,
    serve,
    slow_searches,
    stories,
)
from bench.match import measure, table
from bench.postgres import new_database
from tests.postgres import SERVER


def test_match_benchmark_smoke() -> None:
    rows, megabytes, norm_ours, norm_bare = measure(article_count=3, rule_counts=[10, 50], seconds=0.01)
    assert [row.rules for row in rows] == [10, 50]
    assert all(row.ours > 0 and row.regex > 0 and row.raw > 0 for row in rows)
    assert megabytes > 0 and norm_ours > 0 and norm_bare > 0
    assert "| 50 |" in table(rows, megabytes, norm_ours, norm_bare)


def test_stories_benchmark_smoke() -> None:
    for name, make in stories.CORPORA.items():
        copies = make(6)
        rows = stories.measure(copies, thresholds=(0.5, 0.9))
        [(_, precision, recall, milliseconds), (_, _, strict_recall, _)] = rows
        assert precision == 1.0 and recall >= 0.9 and milliseconds > 0, (name, rows)
        assert strict_recall < recall  # the scorer tells a stricter threshold apart
        assert "| 0.5 (default) | 1.000 |" in stories.table(name, copies, rows)


@pytest.mark.skipif(
    not (extraction.DATA / "ground-truth.json").exists(), reason="no extraction benchmark data"
)
def test_extraction_benchmark_smoke() -> None:
    truth = dict(list(extraction.load(extraction.DATA).items())[:3])
    found, milliseconds = extraction.ours(extraction.DATA, truth, metadata=False)
    assert len(milliseconds) == 3 and found.f1 >= 0.85  # 0.918 on these three pages when written
    peer = extraction.peer(extraction.DATA, "trafilatura", truth)
    assert peer is not None and "| **ours**, t |" in extraction.table({"t": (found, milliseconds)}, {}, 3)


def test_the_extraction_scorer_counts_shingles() -> None:
    perfect = extraction.score([("one two three four five", "one two three four five")])
    assert (perfect.precision, perfect.recall, perfect.accuracy) == (1.0, 1.0, 1.0)
    half = extraction.score([("a b c d e f g h", "a b c d x y z w")])
    assert half.precision == pytest.approx(1 / 5) == half.recall  # 1 shared shingle of 5 on each side
    empty = extraction.score([("a b c d", "")])
    assert empty.recall == 0.0


@pytest.mark.skipif(not (parsing.CORPUS / "MANIFEST.json").exists(), reason="no feed corpus")
def test_parsing_benchmark_smoke() -> None:
    files = parsing.load()[:5]
    rows = {name: parsing.feeds_per_second(files, parse, 1) for name, parse in
            (("ours", parsing.ours), ("peer", parsing.peer), ("limit", parsing.limit))}  # fmt: skip
    assert all(rate > 0 for rate, _ in rows.values())
    assert "| ours (parse_feed) |" in parsing.table(rows, 5, 10)


@pytest.mark.slow
def test_fetching_benchmark_smoke() -> None:
    results = fetching.measure(feeds=8, hosts=2, concurrency=4, rules=20, profile=False, port=8731)
    assert results.changed_articles == 8 * 5 and results.reader_articles == 8 * 5
    assert results.unchanged_ours > 0 and results.unchanged_limit > 0 and results.changed_reader > 0
    assert "| unchanged (all 304), feeds/s |" in fetching.table(results)


@pytest.mark.slow
def test_daemons_benchmark_smoke(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_BENCH_POSTGRESQL", SERVER)
    passes = daemons.measure([1, 2], feeds=8, hosts=2, rules=20, repeat=2, port=8733)
    assert [(one.daemons, one.articles) for one in passes] == [(1, 8 * 5), (2, 8 * 5)]
    assert all(one.seconds > 0 and 0 < one.cpu_busy <= 1 and len(one.others) == 1 for one in passes)
    assert (
        "8 feeds over 2 loopback addresses" in (shown := daemons.table(passes, 8, 2, 20)) and "| 2 |" in shown
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_archive_benchmark_smoke(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_BENCH_POSTGRESQL", SERVER)
    size = archive.measure_size(tmp_path, 1200, repeat=2, backend=backend)
    assert size.insert_rate > 0 and len(size.timings) == 4
    assert all(timing.found for timing in size.timings)  # each query finds something to time
    assert "| 1,200 | common word |" in archive.table([size], backend)


@pytest.mark.slow
def test_memory_benchmark_smoke() -> None:
    result = memory.measure(feeds=12, rules=10, port=8732)
    assert result["peak"] > 0 and result["articles"] == 12 * 25
    assert "peak RSS" in memory.table(12, result)


@pytest.mark.slow
def test_latency_benchmark_smoke() -> None:
    latencies = latency.measure(sources=2, every=2)
    assert len(latencies) == 2 and all(0 <= value < 30 for value in latencies)
    assert "| p50 |" in latency.table(latencies, 2)


@pytest.mark.skipif(not (listings.DATA / "ground-truth.json").exists(), reason="no extraction benchmark data")
def test_listings_benchmark_measures_the_rules_on_real_pages() -> None:
    pages, taken, declared, navigation, navigation_taken = listings.measure()
    assert pages == 181 and taken / pages >= 0.9 and declared["listing"] == 0
    assert 0 < navigation_taken < navigation / 2  # most navigation links are section fronts


def test_serve_benchmark_smoke(tmp_path: Path) -> None:
    kept = str(tmp_path / "kept.db")
    first = serve.run(articles=300, repeat=3, kept=kept, clients=4)
    assert "| rare phrase |" in first and "160 answers, 0 not 200" in first
    again = serve.run(articles=300, repeat=3, kept=kept, clients=4)
    assert "filled by an earlier run" in again
    with pytest.raises(SystemExit, match="holds 300 articles, not 400"):
        serve.run(articles=400, repeat=3, kept=kept, clients=4)
    with pytest.raises(SystemExit, match="holds articles of another shape than news"):
        serve.run(articles=300, repeat=3, kept=kept, clients=4, shape="news")
    (tmp_path / "notes.txt").write_text("not a database")
    for wrong in (str(tmp_path / "notes.txt"), str(tmp_path)):
        with pytest.raises(SystemExit, match=r"is not an archive bench\.serve filled"):
            serve.run(articles=300, repeat=3, kept=wrong, clients=4)


def test_serve_benchmark_of_news_length_articles(tmp_path: Path) -> None:
    kept = tmp_path / "news.db"
    report = serve.run(articles=300, repeat=3, kept=str(kept), clients=4, shape="news")
    assert "300 articles of a news article's length" in report and "160 answers, 0 not 200" in report
    with contextlib.closing(sqlite3.connect(kept)) as reading:
        lengths = sorted(len(text) for (text,) in reading.execute("SELECT text FROM articles"))
    assert 2_000 < lengths[150] < 4_500 and lengths[-1] > 3 * lengths[150]  # as real articles vary
    with pytest.raises(SystemExit, match="holds articles of another shape than short"):
        serve.run(articles=300, repeat=3, kept=str(kept), clients=4)


def test_serve_benchmark_smoke_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_BENCH_POSTGRESQL", SERVER)
    report = serve.run(articles=300, repeat=3, kept=None, backend="postgresql", clients=4)
    assert "stored at" in report and "| CJK term |" in report and "160 answers, 0 not 200" in report
    with new_database(SERVER, "smoke") as kept:
        serve.run(articles=300, repeat=1, kept=kept, backend="postgresql", clients=1)
        again = serve.run(articles=300, repeat=1, kept=kept, backend="postgresql", clients=1)
        assert "filled by an earlier run" in again
        with pytest.raises(SystemExit, match="holds 300 articles, not 400"):
            serve.run(articles=400, repeat=1, kept=kept, backend="postgresql", clients=1)


def test_slow_searches_benchmark_smoke(tmp_path: Path) -> None:
    report = slow_searches.run(
        articles=300, kept=str(tmp_path / "kept.db"), clients=3, seconds=1.5, mix="all"
    )
    assert "0 other" in report and "/healthz: " in report and "`budget`: " in report
    assert "ms, max inf" not in report
    assert int(report.split("peak memory: ")[1].split(" MB")[0]) > 20


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_slow_searches_over_long_articles_smoke(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_BENCH_POSTGRESQL", SERVER)
    report = slow_searches.run(0, None, clients=2, seconds=1.5, mix="long", backend=backend, long_articles=3)
    assert report.startswith(f"3 articles of 200,000 characters, 2,000 short ({backend})"), report
    assert "0 other" in report and "ms, max inf" not in report
