"""The read side under a crowd of slow searches (`monitor serve`, a real process on loopback):
`--clients` threads each ask, for `--seconds`, searches that may run up to the time limit (NOT
alone, which reads every article; short prefixes, which the index gathers in memory; a word
and a NOT or a field that reject what the index finds; a filter few articles pass) or counts
(of every match of the rule, as the rules' and the mentions' routes do, and the sources'), while
/healthz and a quick search (`budget`, a few milliseconds alone) are asked every 0.2 s.
Reported: their latencies, the crowd's searches answered (200) and refused (503: stopped at the
limit, or the server busy), and the server's memory: its peak (VmHWM) and what it keeps after
(VmRSS). Over bench.serve's archive of generated articles on either backend; `--mix` picks
the searches. The `long` mix asks NOT searches over an archive of its own (made anew each run):
150 articles of 200,000 characters among 2,000 of a newsroom's length, where verifying a NOT
meant tokenizing the whole text.

    python -m bench.slow_searches [--articles 1000000] [--archive PATH or URL] [--clients 60]
        [--seconds 20] [--mix all|prefix|scan|verify|filter|counts|long]
        [--backend sqlite|postgresql] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from bench.archive import START, SYLLABLES
from bench.archive import _article as bench_article
from bench.postgres import new_database
from bench.report import environment, write_section
from bench.serve import _archive_at, _p95, _serve
from monitor.archive import Archive
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive
from monitor.models import Article

SEARCH = "/api/v1/articles"
MIXES: dict[str, list[tuple[str, dict[str, str]]]] = {  # paths and their parameters
    "all": [(SEARCH, {"q": "NOT budget"}), (SEARCH, {"q": "ka*"}), (SEARCH, {"q": "NOT lo*"})],
    "prefix": [(SEARCH, {"q": "ka*"})],
    "scan": [(SEARCH, {"q": "NOT budget"}), (SEARCH, {"q": "NOT lo*"})],
    "verify": [(SEARCH, {"q": "budget -budget"}), (SEARCH, {"q": "title:budget"})],
    "filter": [(SEARCH, {"lang": "zz"}), (SEARCH, {"q": "budget", "lang": "zz"})],
    "long": [(SEARCH, {"q": "dome -zzzq"}), (SEARCH, {"q": "NOT zzzq"})],
    # Counting every match of the rule (its 200,000 hits) or every source's articles
    "counts": [
        ("/api/v1/rules", {}),
        ("/api/v1/stats/mentions", {"by": "source"}),
        ("/api/v1/sources", {}),
        ("/rules", {}),
    ],
}
# The rule whose hits bench.archive stores, and its sources
CONFIG = {
    "sources": [{"name": f"Source {at}", "url": f"https://bench.test/{at}.xml"} for at in range(200)],
    "watch": [{"name": "Watch", "terms": ["budget"]}],
}
PROBE_EVERY = 0.2  # seconds between two asks of /healthz
AFTER_CROWD = 2.0  # seconds from the crowd's end to reading the memory the server keeps
LONG_ARTICLES, LONG_CHARACTERS, SHORT_ARTICLES = 150, 200_000, 2_000  # the `long` mix's archive


def run(
    articles: int,
    kept: str | None,
    clients: int,
    seconds: float,
    mix: str,
    backend: str = "sqlite",
    long_articles: int = LONG_ARTICLES,
) -> str:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        held = (
            _long_archive_at(backend, folder, long_articles)
            if mix == "long"
            else _archive_at(backend, kept, articles, folder)
        )
        with held as (_, url, filled):
            config = folder / "monitor.yaml"
            config.write_text(yaml.safe_dump({"storage": {"url": url}, **CONFIG}))
            process, base = _serve(config)
            try:
                answers, probes, quick = _crowd(base, MIXES[mix], clients, seconds)
                peak = _megabytes(process.pid, "VmHWM")
                time.sleep(AFTER_CROWD)
                kept_after = _megabytes(process.pid, "VmRSS")
            finally:
                process.terminate()
                process.wait(timeout=60)
    shown = ", ".join(f"`{_address(path, params)}`" for path, params in MIXES[mix])
    return (
        f"{filled} ({backend}); {clients} clients asking {shown} (limit: the default 10 s) for "
        f"{seconds:g} s, /healthz and `budget` every {PROBE_EVERY:g} s meanwhile.\n\n"
        f"/healthz: {_spread(probes)}. `budget`: {_spread(quick)}. "
        f"The crowd's searches: {answers.get(200, 0)} answered, {answers.get(503, 0)} refused "
        f"(stopped at the limit, or the server busy), "
        f"{sum(answers.values()) - answers.get(200, 0) - answers.get(503, 0)} other. "
        f"The server's peak memory: {peak} MB; {AFTER_CROWD:g} s after the crowd: {kept_after} MB."
    )


@contextmanager
def _long_archive_at(backend: str, folder: Path, long_articles: int) -> Iterator[tuple[Archive, str, str]]:
    """A new archive (a file in `folder`, or a new PostgreSQL database) of `long_articles` texts
    of LONG_CHARACTERS generated words, `dome` among them, and SHORT_ARTICLES of bench.archive's."""
    archive: Archive
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'long.db'}"
            archive = SqlArchive(url)
        else:
            server = os.environ.get("MONITOR_BENCH_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")
            url = stack.enter_context(new_database(server, "long"))
            archive = PostgresArchive(url)
        stack.callback(archive.close)
        rng = random.Random(5)
        short = [bench_article(rng, index) for index in range(SHORT_ARTICLES)]
        for start in range(0, SHORT_ARTICLES, 500):
            archive.store_new(short[start : start + 500], [])
        for start in range(0, long_articles, 10):
            batch = range(start, min(start + 10, long_articles))
            archive.store_new([_long_article(rng, index) for index in batch], [])
        yield (
            archive,
            url,
            f"{long_articles} articles of {LONG_CHARACTERS:,} characters, {SHORT_ARTICLES:,} short",
        )


def _long_article(rng: random.Random, index: int) -> Article:
    words: list[str] = []
    length = 0
    while length < LONG_CHARACTERS:
        words.append("dome" if rng.random() < 0.01 else "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))))
        length += len(words[-1]) + 1
    key, when = f"long{index:04d}", START + timedelta(days=30, minutes=index)
    return Article(
        key, f"https://bench.test/{key}", key, "Source 0", f"A long report {index}", "",
        " ".join(words), "", when, when, "en", key, (),
    )  # fmt: skip


def _crowd(
    base: str, searches: list[tuple[str, dict[str, str]]], clients: int, seconds: float
) -> tuple[dict[int, int], list[float], list[float]]:
    """The status codes of the crowd's searches, counted, and the latencies in ms of /healthz
    and of the quick search (inf: an answer other than 200)."""
    stop = time.monotonic() + seconds
    answers: dict[int, int] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as session:
            while time.monotonic() < stop:
                path, params = searches[number % len(searches)]
                limited = {**params, "limit": "50"} if path == SEARCH else params
                status = session.get(path, params=limited).status_code
                with lock:
                    answers[status] = answers.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    probes: list[float] = []
    quick: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as probe:
        while time.monotonic() < stop:
            for path, latencies in (("/healthz", probes), ("/api/v1/articles?q=budget&limit=50", quick)):
                began = time.perf_counter()
                answered = probe.get(path).status_code == 200
                latencies.append((time.perf_counter() - began) * 1000 if answered else float("inf"))
            time.sleep(PROBE_EVERY)
    for thread in threads:
        thread.join()
    return answers, probes, quick


def _address(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _spread(latencies: list[float]) -> str:
    return (
        f"{len(latencies)} answers, p50 {statistics.median(latencies):.0f} ms, p95 {_p95(latencies):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


def _megabytes(pid: int, field: str) -> int:
    """A process's memory by /proc's account: VmHWM its peak, VmRSS what it holds now."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument(
        "--archive", help="keep the generated archive here (a path, or a PostgreSQL URL), for the next run"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--mix", choices=sorted(MIXES), default="all")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = run(args.articles, args.archive, args.clients, args.seconds, args.mix, args.backend)
    print(body)
    if not args.no_write:
        write_section(
            f"Slow searches at once (bench/slow_searches.py, {args.mix}"
            + (", PostgreSQL)" if args.backend == "postgresql" else ")"),
            environment("bench.slow_searches", ["uvicorn", "SQLAlchemy"]) + "\n" + body,
        )


if __name__ == "__main__":
    main()
