"""The archive: insert rate, and `search` latency (in-process, warm) against bare FTS5.

Generated articles (English-like words, a Chinese and a Hebrew share, a fifth matched with a
hit) are stored through SqlArchive.store in batches, as the pipeline stores them. Then four
queries run repeatedly: a rare phrase, a common word, an OR of 10 terms and a CJK term. Ours is
SqlArchive.search: the first 50 by publication, newest first, as whole articles with their hits
and copies. The limit is a bare FTS5 MATCH of the same index expression on the same database,
through the sqlite3 driver with nothing between: the same 50 article rows, newest stored first
(publication follows storing order here, so they are the same articles), nothing else read or
built. The bare rowids alone are reported beside it: no search that shows articles can reach
them, since reading the 50 rows costs as much again.

    python -m bench.archive [--sizes 100000,1000000] [--repeat 200] [--no-write]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import environment, write_section
from monitor.archive import SearchFilters
from monitor.archive.search import fts_query
from monitor.archive.sql import SqlArchive
from monitor.models import Article, Hit
from monitor.rules import parse_query

START = datetime(2026, 1, 1, tzinfo=UTC)
COMMON = "budget"
QUERIES = {
    "rare phrase": '"orbital lattice"',
    "common word": COMMON,
    "OR of 10 terms": " OR ".join(
        ["radar", "frigate", "drone", "missile", "laser", "satellite", "sonar", "tank", "jet", "corvette"]
    ),
    "CJK term": "台灣之盾",
}
SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "do", "fe", "gi", "hu"]
TERMS = ["radar", "frigate", "drone", "missile", "laser", "satellite", "sonar", "tank", "jet", "corvette"]
HAN = "國防部表示將審查防空雷達系統與海岸飛彈部署預算並與夥伴討論採購時程及訓練計畫"


def _text(rng: random.Random, index: int) -> str:
    words = ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(90)]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), COMMON)
    if rng.random() < 0.02:
        words.insert(rng.randrange(len(words)), rng.choice(TERMS))
    if index % 100_000 == 7:
        words.insert(rng.randrange(len(words)), "orbital lattice")
    text = " ".join(words)
    if rng.random() < 0.1:
        han = "".join(rng.choices(HAN, k=60))
        if rng.random() < 0.05:
            han = han[:30] + "台灣之盾" + han[30:]
        text += "\n" + han
    return text


def _article(rng: random.Random, index: int) -> Article:
    key = f"a{index:08d}"
    when = START + timedelta(seconds=index * 30)
    text = _text(rng, index)
    hits = (Hit("Watch", "budget", "text", 0, 6, text[:160]),) if index % 5 == 0 else ()
    return Article(
        key, f"https://bench.test/{key}", key, f"Source {index % 200}", f"Report {index}", "",
        text, "", when, when, "en", key, hits,
    )  # fmt: skip


@dataclass
class Timing:
    query: str
    ours: list[float]
    rows: list[float]  # the limit: bare FTS5, the same article rows
    rowids: list[float]  # bare FTS5, rowids only
    found: int


@dataclass
class Size:
    articles: int
    insert_rate: float
    timings: list[Timing]
    repeat: int


def build(folder: Path, count: int) -> tuple[SqlArchive, float]:
    archive = SqlArchive(f"sqlite:///{folder / f'archive-{count}.db'}")
    rng = random.Random(count)
    elapsed = 0.0
    for start in range(0, count, 1000):
        batch = [_article(rng, index) for index in range(start, min(count, start + 1000))]
        began = time.perf_counter()
        archive.store_new(batch, [])
        elapsed += time.perf_counter() - began
    return archive, count / elapsed


LIMIT_ROWS = (
    "SELECT articles.* FROM articles_fts JOIN articles ON articles.seq = articles_fts.rowid "
    "WHERE articles_fts MATCH ? ORDER BY articles_fts.rowid DESC LIMIT 50"
)
LIMIT_ROWIDS = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT 50"


def _bare(connection: sqlite3.Connection, statement: str, expression: str | None) -> list[Any]:
    return connection.execute(statement, (expression,)).fetchall()


def _timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def measure_size(folder: Path, count: int, repeat: int = 200) -> Size:
    archive, rate = build(folder, count)
    timings = []
    bare = sqlite3.connect(folder / f"archive-{count}.db")
    for label, query in QUERIES.items():
        node = parse_query(query)
        expression = fts_query(node)
        filters = SearchFilters(limit=50)
        found = archive.search(node, filters)  # warm
        limit_rows = _bare(bare, LIMIT_ROWS, expression)
        assert [row[1] for row in limit_rows] == [item.article.id for item in found], label
        ours, rows, rowids = [], [], []
        for _ in range(repeat):
            ours.append(_timed(partial(archive.search, node, filters)))
            rows.append(_timed(partial(_bare, bare, LIMIT_ROWS, expression)))
            rowids.append(_timed(partial(_bare, bare, LIMIT_ROWIDS, expression)))
        timings.append(Timing(label, ours, rows, rowids, len(found)))
    bare.close()
    archive.close()
    return Size(count, rate, timings, repeat)


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def table(sizes: list[Size]) -> str:
    lines = [
        "Generated articles of ~90 words (10% with a Chinese passage), stored through",
        "SqlArchive.store in batches of 1,000. Search: warm, in-process, first 50 results;",
        f"each query run {sizes[0].repeat if sizes else 0} times, ours and the limits interleaved.",
        "",
        "| articles | insert (articles/s) |",
        "| ---: | ---: |",
    ]
    lines += [f"| {size.articles:,} | {size.insert_rate:,.0f} |" for size in sizes]
    lines += [
        "",
        "| articles | query | found | ours p50 / p95 ms | limit: FTS5 rows p50 / p95 ms "
        "| p95 ours / limit | FTS5 rowids p95 ms | p95 ours / rowids |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for timing in size.timings:
            ours95, rows95, rowids95 = (
                _p(values, 0.95) for values in (timing.ours, timing.rows, timing.rowids)
            )
            lines.append(
                f"| {size.articles:,} | {timing.query} | {timing.found} | "
                f"{statistics.median(timing.ours):.2f} / {ours95:.2f} | "
                f"{statistics.median(timing.rows):.2f} / {rows95:.2f} | {ours95 / max(rows95, 1e-6):.1f}x | "
                f"{rowids95:.2f} | {ours95 / max(rowids95, 1e-6):.1f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--repeat", type=int, default=200)  # a p95 of 30 is their second worst
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sizes = [measure_size(Path(folder), int(count), args.repeat) for count in args.sizes.split(",")]
    body = table(sizes)
    print(body)
    if not args.no_write:
        write_section(
            "Archive (bench/archive.py)", environment("bench.archive", ["SQLAlchemy"]) + "\n" + body
        )


if __name__ == "__main__":
    main()
