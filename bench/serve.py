"""The read side over HTTP (`monitor serve`, a real process on loopback): the API's search against
the same search in-process, both as a client sees it (a round trip on loopback, by a client
that adds next to nothing) and in the server's own time (its Server-Timing header); the web
search's first page in server time; and 50 clients at once.

Generated articles as bench.archive stores them, in a SQLite archive. Each query of
bench.archive runs `--repeat` times in-process (Archive.search, 50 results; and the API's whole
answer, parsing and JSON included, without HTTP) and through `GET /api/v1/articles?q=…&limit=50`
on one kept-alive connection, in blocks of 25 taking turns; the web search `GET /?q=…` (30
results, rendered, through httpx) likewise. The target compares the API with the bare search. Then 50
threads, each with its own connection, send 40 requests apiece mixing API searches, web
searches, an article and the sources: every answer must be a 200.

    python -m bench.serve [--articles 1000000] [--repeat 200] [--archive PATH|URL]
                          [--backend sqlite|postgresql] [--no-write]

`--archive PATH` keeps the generated archive there and uses it again on the next run (filling a
million articles takes minutes); with `--backend postgresql`, `--archive` is the URL of a
database to keep it in, and without it a new database on MONITOR_BENCH_POSTGRESQL (default
postgresql://postgres@127.0.0.1:5432/test) is filled and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
import yaml

from bench.archive import QUERIES, SHAPES, SHORT_WORDS, fill
from bench.postgres import new_database
from bench.report import environment, write_section
from monitor.archive import Archive, SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.queries import SearchAsked
from monitor.rules import parse_query
from monitor.runtime import event_loop
from monitor.serve.api import articles_page

CLIENTS, REQUESTS_EACH = 50, 40
BLOCK = 25  # calls of one way in a row


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def _server_time(response: httpx.Response) -> float:
    assert response.status_code == 200, response.text[:300]
    return float(response.headers["server-timing"].split("dur=")[1])


class _LeanClient:
    """GET over one kept-alive HTTP/1.1 connection with nothing between the socket and the
    bytes: the round trip the API costs, not a client library's own work (httpx adds about a
    millisecond a request, more than a rare phrase's whole answer)."""

    def __init__(self, base: str) -> None:
        self.host = base.split("//", 1)[1]
        self.connection = self._connect()

    def _connect(self) -> socket.socket:
        address, port = self.host.rsplit(":", 1)
        connection = socket.create_connection((address, int(port)))
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def server_time(self, path: str, params: dict[str, object]) -> float:
        """The server's own time for a 200 to GET path?params."""
        request = f"GET {path}?{urlencode(params)} HTTP/1.1\r\nhost: {self.host}\r\n\r\n"
        try:
            self.connection.sendall(request.encode())
            received = self._receive()
        except ConnectionError:  # closed while idle (uvicorn keeps one 5 s): as any client, again
            self.connection.close()
            self.connection = self._connect()
            self.connection.sendall(request.encode())
            received = self._receive()
        while b"\r\n\r\n" not in received:
            received += self._receive()
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        while len(body) < int(headers["content-length"]):
            body += self._receive()
        assert lines[0].split(" ")[1] == "200", f"{lines[0]}: {body[:300]!r}"
        return float(headers["server-timing"].split("dur=")[1])

    def _receive(self) -> bytes:
        chunk = self.connection.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.connection.close()


FIRST_TEXTS = "SELECT text FROM articles ORDER BY published LIMIT 100"  # a kept archive's shape


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "serve", "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/healthz", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("monitor serve did not answer within 60 s")


def _crowd(base: str, article_id: str, clients: int) -> tuple[int, int, list[float], float]:
    """`clients` threads at once; (answers, failures, latencies in ms, seconds in all)."""
    paths = [
        "/api/v1/articles?q=budget&limit=50",
        "/?q=%22orbital+lattice%22",
        f"/api/v1/articles/{article_id}",
        "/api/v1/articles?q=radar+OR+frigate&limit=20",
        "/?q=台灣之盾",
        "/api/v1/sources",
    ]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as session:
            start.wait()
            for request in range(REQUESTS_EACH):
                began = time.perf_counter()
                try:
                    ok = session.get(paths[(number + request) % len(paths)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)
                    failures[0] += not ok

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), failures[0], latencies, time.perf_counter() - began


@contextmanager
def _archive_at(
    backend: str, kept: str | None, articles: int, folder: Path, shape: str = "short"
) -> Iterator[tuple[Archive, str, str]]:
    """(the archive of `articles` generated articles of `shape`, its URL, how it was filled) on
    `backend`: at `kept` (a path, or a PostgreSQL URL), filled unless it was before; else a new
    one, gone at the end."""
    archive: Archive
    if backend == "sqlite":
        database = Path(kept).resolve() if kept else folder / "archive.db"  # the server's config is elsewhere
        archive, filled = _archive(database, articles, shape)
        with contextlib.closing(archive):
            yield archive, f"sqlite:///{database}", filled
    elif kept:
        archive, filled = _postgres_archive(kept, articles, shape)
        with contextlib.closing(archive):
            yield archive, kept, filled
    else:
        server = os.environ.get("MONITOR_BENCH_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")
        with new_database(server, "serve") as url:
            archive, filled = _postgres_archive(url, articles, shape)
            with contextlib.closing(archive):
                yield archive, url, filled


def _postgres_archive(url: str, articles: int, shape: str = "short") -> tuple[PostgresArchive, str]:
    archive = PostgresArchive(url)
    with psycopg.connect(url) as counting:
        [(held,)] = counting.execute("SELECT count(*) FROM articles").fetchall()
        texts = [text for (text,) in counting.execute(FIRST_TEXTS).fetchall()]
    if held == articles:
        _check_shape(url, texts, shape)
        return archive, f"{articles:,} articles {SHAPES[shape]} (filled by an earlier run)"
    if held:
        archive.close()
        raise SystemExit(f"{url} holds {held:,} articles, not {articles:,}: give another database")
    rate = fill(archive, articles, shape)
    # As autovacuum leaves it (bench.archive's way): statistics gathered, the GIN index's
    # pending list merged. Before, the planner had no statistics: searches took a second.
    with psycopg.connect(url, autocommit=True) as tidying:
        tidying.execute("VACUUM ANALYZE")  # every table: the hits' plans, for the feeds, too
    return archive, f"{articles:,} articles {SHAPES[shape]} (stored at {rate:,.0f}/s)"


def _archive(database: Path, articles: int, shape: str = "short") -> tuple[SqlArchive, str]:
    """The archive of `articles` generated articles of `shape` at `database`, filled unless it
    was before."""
    if database.exists():
        try:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as counting:
                [(held,)] = counting.execute("SELECT count(*) FROM articles").fetchall()
                texts = [text for (text,) in counting.execute(FIRST_TEXTS).fetchall()]
        except sqlite3.Error as error:
            raise SystemExit(
                f"{database} is not an archive bench.serve filled ({error}): give another path"
            ) from None
        if held != articles:
            raise SystemExit(f"{database} holds {held:,} articles, not {articles:,}: give another path")
        _check_shape(str(database), texts, shape)
        filled = f"{articles:,} articles {SHAPES[shape]} (filled by an earlier run)"
        return SqlArchive(f"sqlite:///{database}"), filled
    archive = SqlArchive(f"sqlite:///{database}")
    rate = fill(archive, articles, shape)
    return archive, f"{articles:,} articles {SHAPES[shape]} (stored at {rate:,.0f}/s)"


def _check_shape(where: str, texts: list[str], shape: str) -> None:
    """SystemExit unless the archive's first texts are of `shape`: a short one's are all of 90
    words and the few a generated article adds; a news archive's vary from 20 to thousands."""
    short = all(len(text.split()) <= SHORT_WORDS + 5 for text in texts)
    if short != (shape == "short"):
        raise SystemExit(f"{where} holds articles of another shape than {shape}: give another")


def run(
    articles: int,
    repeat: int,
    kept: str | None,
    backend: str = "sqlite",
    clients: int = CLIENTS,
    shape: str = "short",
) -> str:
    with (
        tempfile.TemporaryDirectory() as name,
        _archive_at(backend, kept, articles, Path(name), shape) as held,
    ):
        archive, url, filled = held
        config = Path(name) / "monitor.yaml"
        config.write_text(yaml.safe_dump({"storage": {"url": url}, "sources": [], "watch": []}))
        settings = load_settings(config)
        process, base = _serve(config)
        try:
            lines = [
                f"{filled}; each query {repeat} times each way, in blocks of {BLOCK} taking turns. "
                "p50 / p95 in ms; the ratios are p95 over the in-process search's p95.",
                "",
                "| query | in-process search | in-process answer (JSON, no HTTP) | API server time "
                "| server time / search | API round trip | round trip / search | web page server time |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            outside: list[float] = []
            pooled: list[list[float]] = [[], [], [], [], []]  # every query's calls, each way
            lean = _LeanClient(base)
            with httpx.Client(base_url=base, timeout=60) as session:
                for label, query in QUERIES.items():
                    node = parse_query(query)
                    asked = SearchAsked(query, limit=50)
                    ours, answer, api, server, page = [], [], [], [], []
                    api_call = partial(lean.server_time, "/api/v1/articles", {"q": query, "limit": 50})
                    for _ in range(max(1, repeat // BLOCK)):
                        # Each way a block at a time, so each is measured warm: one call of each
                        # in turn, each process evicted the other's caches (3x the in-process
                        # search's time on the 2-core machine of RESULTS.md).
                        for _ in range(BLOCK):
                            ours.append(_timed(partial(archive.search, node, SearchFilters(limit=50))))
                        for _ in range(BLOCK):
                            whole = partial(articles_page, archive, settings, asked, None, time_limit=None)
                            answer.append(_timed(whole))
                        for _ in range(BLOCK):
                            began = time.perf_counter()
                            server.append(api_call())
                            api.append((time.perf_counter() - began) * 1000)
                            outside.append(api[-1] - server[-1])
                        for _ in range(BLOCK):
                            page.append(_server_time(session.get("/", params={"q": query})))
                    lines.append(_row(label, ours, answer, server, api, page))
                    for each, timings in zip(pooled, (ours, answer, server, api, page), strict=True):
                        each += timings
                # The p95 of the searches as a workload: a client's searches mix these shapes.
                lines.append(_row(f"the {len(QUERIES)} together", *pooled))
                [first] = archive.search(parse_query("budget"), SearchFilters(limit=1))
            lean.close()
            answers, failures, latencies, seconds = _crowd(base, first.article.id, clients)
            lines += [
                "",
                f"Outside the app (round trip minus server time: uvicorn's HTTP, loopback, a lean client): "
                f"p50 {statistics.median(outside):.2f} ms, p95 {_p95(outside):.2f} ms a request. "
                "A trip to a thread and back, with nothing to do there: p50 / p95 "
                f"{_spread(_thread_trips())} ms.",
                "",
                f"{clients} clients at once, {REQUESTS_EACH} requests each (API and web searches, an "
                f"article, the sources): {answers:,} answers, {failures} not 200, "
                f"{answers / seconds:,.0f} requests/s, p50 {statistics.median(latencies):.0f} ms, "
                f"p95 {_p95(latencies):.0f} ms.",
            ]
        finally:
            process.terminate()
            process.wait(timeout=60)
    return "\n".join(lines)


def _row(
    label: str,
    ours: list[float],
    answer: list[float],
    server: list[float],
    api: list[float],
    page: list[float],
) -> str:
    return (
        f"| {label} | {_spread(ours)} | {_spread(answer)} | {_spread(server)} | "
        f"{_p95(server) / _p95(ours):.1f}x | {_spread(api)} | {_p95(api) / _p95(ours):.1f}x | "
        f"{_spread(page)} |"
    )


def _thread_trips(count: int = 2000) -> list[float]:
    """ms for an event loop to have a thread run nothing and hear back: what the API's search
    pays, whatever it searches, to keep the loop free while it reads."""
    reads = ThreadPoolExecutor(1)

    async def trips() -> list[float]:
        loop = asyncio.get_running_loop()
        timings = []
        for _ in range(count):
            began = time.perf_counter()
            await loop.run_in_executor(reads, int)
            timings.append((time.perf_counter() - began) * 1000)
        return timings

    try:
        return event_loop.run(trips())[count // 10 :]
    finally:
        reads.shutdown()


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {_p95(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--archive", help="keep the generated archive here (a path; a URL on PostgreSQL), for the next run"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--shape", choices=SHAPES, default="short", help="the articles' lengths: short (90 words) or news"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = run(args.articles, args.repeat, args.archive, args.backend, shape=args.shape)
    print(body)
    if not args.no_write:
        packages = ["fastapi", "uvicorn", "httptools", "uvloop", "SQLAlchemy"]
        packages += ["psycopg"] if args.backend == "postgresql" else []
        postgresql = args.backend == "postgresql"
        flags = ["--backend postgresql"] if postgresql else []
        flags += [f"--shape {args.shape}"] if args.shape != "short" else []  # a section of its own
        title = f"The read side over HTTP{' on PostgreSQL' if postgresql else ''} "
        title += f"({' '.join(['bench/serve.py', *flags])})"
        write_section(title, environment("bench.serve", packages) + "\n" + body)


if __name__ == "__main__":
    main()
