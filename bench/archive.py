"""The archive: insert rate, and `search` latency (in-process, warm) against the bare full-text
query of its database (FTS5 on SQLite, a tsvector query on PostgreSQL).

Generated articles (English-like words, a Chinese and a Hebrew share, a fifth matched with a
hit) are stored through the archive's store_new in batches, as the pipeline stores them. Then
four queries run repeatedly: a rare phrase, a common word, an OR of 10 terms and a CJK term.
Ours is the archive's search: the first 50 by publication, newest first, as whole articles with
their hits and copies. The limit is a bare full-text query of the same index expression on the
same database, through the driver with nothing between: the same 50 article rows, nothing else
read or built (SQLite: an FTS5 MATCH newest stored first, as publication follows storing order
here; PostgreSQL: `search @@ tsquery ORDER BY published DESC, seq DESC`, under the faster of
the planner's plan and the GIN index's matches sorted, chosen per query). The bare ids alone are
reported beside it: no search that shows articles can reach them, since reading the 50 rows
costs as much again.

    python -m bench.archive [--backend sqlite|postgresql] [--sizes 100000,1000000]
                            [--repeat 200] [--no-write]

PostgreSQL: a database made for the run on the server of MONITOR_BENCH_POSTGRESQL (default
postgresql://postgres@127.0.0.1:5432/test, the development machine's), dropped at the end;
searched after a VACUUM ANALYZE, the state autovacuum keeps a table in (statistics gathered,
the GIN index's pending list merged).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from bench.postgres import new_database
from bench.report import environment, write_section
from monitor.archive import Archive, SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.pg_text import search_query
from monitor.archive.search import fts_query
from monitor.archive.sql import SqlArchive
from monitor.models import Article, Hit
from monitor.rules import Node, parse_query

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
SHORT_WORDS = 90
SHAPES = {  # the articles' lengths (_word_count), as a report says them
    "short": "of 90 words (about 600 characters)",
    "news": "of a news article's length (median 3,150 characters, p99 21,000)",
}
NEWS_LOG_MEDIAN, NEWS_LOG_SIGMA, NEWS_MOST_WORDS = math.log(450), 0.83, 8_000
HAN = "國防部表示將審查防空雷達系統與海岸飛彈部署預算並與夥伴討論採購時程及訓練計畫"


def _text(rng: random.Random, index: int, shape: str = "short") -> str:
    words = ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(_word_count(rng, shape))]
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


def _word_count(rng: random.Random, shape: str) -> int:
    """A text's words: SHORT_WORDS (about 600 characters), or, in the `news` shape, as many as
    real articles hold (log-normal, fitted to the lengths of the extraction benchmark's 181
    texts: median 3,158 characters, p90 9,101, p99 20,477; a generated word and its space
    average 7 characters)."""
    if shape == "short":
        return SHORT_WORDS
    return min(NEWS_MOST_WORDS, max(20, round(rng.lognormvariate(NEWS_LOG_MEDIAN, NEWS_LOG_SIGMA))))


def _article(rng: random.Random, index: int, shape: str = "short") -> Article:
    key = f"a{index:08d}"
    when = START + timedelta(seconds=index * 30)
    text = _text(rng, index, shape)
    hits = (Hit("Watch", "budget", "text", 0, 6, text[:160]),) if index % 5 == 0 else ()
    return Article(
        key, f"https://bench.test/{key}", key, f"Source {index % 200}", f"Report {index}", "",
        text, "", when, when, "en", key, hits,
    )  # fmt: skip


@dataclass
class Timing:
    query: str
    ours: list[float]
    rows: list[float]  # the limit: the bare full-text query, the same article rows
    rowids: list[float]  # the bare full-text query, ids only
    found: int


@dataclass
class Size:
    articles: int
    insert_rate: float
    timings: list[Timing]
    repeat: int
    backend: str = "sqlite"


@dataclass
class Bare:
    """The limit on one backend: the bare full-text query, rows and ids, through the driver."""

    expression: Callable[[Node], str | None]  # the index query the archive would send
    rows: Callable[[str | None], list[Any]]  # the 50 newest article rows (the id second)
    ids: Callable[[str | None], list[Any]]
    close: Callable[[], None]


SQLITE_ROWS = (
    "SELECT articles.* FROM articles_fts JOIN articles ON articles.seq = articles_fts.rowid "
    "WHERE articles_fts MATCH ? ORDER BY articles_fts.rowid DESC LIMIT 50"
)
SQLITE_IDS = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT 50"
POSTGRES_ROWS = (
    "SELECT * FROM articles WHERE search @@ %s::tsquery ORDER BY published DESC, seq DESC LIMIT 50"
)
POSTGRES_IDS = (
    "SELECT seq FROM articles WHERE search @@ %s::tsquery ORDER BY published DESC, seq DESC LIMIT 50"
)


@contextmanager
def sqlite_archive(folder: Path, count: int) -> Iterator[tuple[Archive, Bare]]:
    path = folder / f"archive-{count}.db"
    archive = SqlArchive(f"sqlite:///{path}")
    bare = sqlite3.connect(path)
    try:
        yield (
            archive,
            Bare(
                fts_query,
                lambda expression: bare.execute(SQLITE_ROWS, (expression,)).fetchall(),
                lambda expression: bare.execute(SQLITE_IDS, (expression,)).fetchall(),
                bare.close,
            ),
        )
    finally:
        bare.close()
        archive.close()


@contextmanager
def postgres_archive(folder: Path, count: int) -> Iterator[tuple[Archive, Bare]]:
    server = os.environ.get("MONITOR_BENCH_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")
    with new_database(server, str(count)) as url:
        archive = PostgresArchive(url)
        bare = psycopg.connect(url, autocommit=True)
        rows_plans: dict[str | None, bool] = {}
        ids_plans: dict[str | None, bool] = {}
        try:
            yield (
                archive,
                Bare(
                    search_query,
                    lambda expression: _best_plan(bare, POSTGRES_ROWS, rows_plans, expression),
                    lambda expression: _best_plan(bare, POSTGRES_IDS, ids_plans, expression),
                    bare.close,
                ),
            )
        finally:
            bare.close()
            archive.close()


def _best_plan(
    connection: psycopg.Connection[Any],
    statement: str,
    chosen: dict[str | None, bool],
    expression: str | None,
) -> list[Any]:
    """The bare query under the faster of the planner's own plan and the GIN index's matches
    sorted (the planner counts testing a tsvector as free and reads a million articles newest
    first for a phrase found in one): the limit at its best, chosen on the first call."""
    if expression not in chosen:
        timings = {}
        for forced in (False, True):
            for _ in range(3):
                _run_plan(connection, statement, expression, forced)  # warm
            timings[forced] = min(
                _timed(partial(_run_plan, connection, statement, expression, forced)) for _ in range(5)
            )
        chosen[expression] = timings[True] < timings[False]
    return _run_plan(connection, statement, expression, chosen[expression])


def _run_plan(
    connection: psycopg.Connection[Any], statement: str, expression: str | None, forced: bool
) -> list[Any]:
    if not forced:
        return connection.execute(statement, (expression,)).fetchall()
    with connection.transaction():
        connection.execute("SET LOCAL enable_indexscan = off")
        # A statement text of its own: psycopg prepares a statement after a few runs, and the
        # server's cached plan for it would serve both ways, whatever the setting.
        return connection.execute(statement + " /* forced */", (expression,)).fetchall()


BACKENDS = {"sqlite": sqlite_archive, "postgresql": postgres_archive}


def fill(archive: Archive, count: int, shape: str = "short") -> float:
    """Store `count` generated articles of `shape` (_word_count) in batches of 1,000; articles
    stored per second."""
    rng = random.Random(count)
    elapsed = 0.0
    for start in range(0, count, 1000):
        batch = [_article(rng, index, shape) for index in range(start, min(count, start + 1000))]
        began = time.perf_counter()
        archive.store_new(batch, [])
        elapsed += time.perf_counter() - began
    return count / elapsed


def _timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def measure_size(folder: Path, count: int, repeat: int = 200, backend: str = "sqlite") -> Size:
    with BACKENDS[backend](folder, count) as (archive, bare):
        rate = fill(archive, count)
        if isinstance(archive, PostgresArchive):
            # As autovacuum leaves it: statistics gathered, the GIN index's pending list merged.
            with archive.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE articles")
        timings = []
        for label, query in QUERIES.items():
            node = parse_query(query)
            expression = bare.expression(node)
            filters = SearchFilters(limit=50)
            found = archive.search(node, filters)  # warm
            limit_rows = bare.rows(expression)
            assert [row[1] for row in limit_rows] == [item.article.id for item in found], label
            ours, rows, ids = [], [], []
            for _ in range(repeat):
                ours.append(_timed(partial(archive.search, node, filters)))
                rows.append(_timed(partial(bare.rows, expression)))
                ids.append(_timed(partial(bare.ids, expression)))
            timings.append(Timing(label, ours, rows, ids, len(found)))
    return Size(count, rate, timings, repeat, backend)


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


LIMIT_NAMES = {"sqlite": "FTS5", "postgresql": "tsquery"}


def table(sizes: list[Size], backend: str = "sqlite") -> str:
    bare = LIMIT_NAMES[backend]
    lines = [
        "Generated articles of ~90 words (10% with a Chinese passage), stored through",
        f"store_new in batches of 1,000 ({backend}). Search: warm, in-process, first 50 results;",
        f"each query run {sizes[0].repeat if sizes else 0} times, ours and the limits interleaved.",
        "",
        "| articles | insert (articles/s) |",
        "| ---: | ---: |",
    ]
    lines += [f"| {size.articles:,} | {size.insert_rate:,.0f} |" for size in sizes]
    lines += [
        "",
        f"| articles | query | found | ours p50 / p95 ms | limit: {bare} rows p50 / p95 ms "
        f"| p95 ours / limit | {bare} ids p95 ms | p95 ours / ids |",
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
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="sqlite")
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--repeat", type=int, default=200)  # a p95 of 30 is their second worst
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sizes = [
            measure_size(Path(folder), int(count), args.repeat, args.backend)
            for count in args.sizes.split(",")
        ]
    body = table(sizes, args.backend)
    print(body)
    if not args.no_write:
        section = "Archive (bench/archive.py)"
        packages = ["SQLAlchemy"]
        if args.backend == "postgresql":
            section, packages = (
                "Archive on PostgreSQL (bench/archive.py --backend postgresql)",
                [*packages, "psycopg"],
            )
        write_section(section, environment("bench.archive", packages) + "\n" + body)


if __name__ == "__main__":
    main()
