"""The read side over HTTP (`monitor serve`, a real process on loopback): the API's search against
the same search in-process, both as the client sees it (a round trip of httpx on loopback) and
in the server's own time (its Server-Timing header); the web search's first page in server time;
and 50 clients at once.

Generated articles as bench.archive stores them, in a SQLite archive. Each query of
bench.archive runs `--repeat` times in-process (Archive.search, 50 results) and through
`GET /api/v1/articles?q=…&limit=50` on one kept-alive connection, interleaved; the web search
`GET /?q=…` (30 results, rendered) likewise. Then 50 threads, each with its own connection,
send 40 requests apiece mixing API searches, web searches, an article and the sources: every
answer must be a 200.

    python -m bench.serve [--articles 1000000] [--repeat 200] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import yaml

from bench.archive import QUERIES, fill
from bench.report import environment, write_section
from monitor.archive import SearchFilters
from monitor.archive.sql import SqlArchive
from monitor.rules import parse_query

CLIENTS, REQUESTS_EACH = 50, 40


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(folder: Path, database: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "monitor.yaml"
    config.write_text(
        yaml.safe_dump({"storage": {"url": f"sqlite:///{database}"}, "sources": [], "watch": []})
    )
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


def _crowd(base: str, article_id: str) -> tuple[int, int, list[float], float]:
    """CLIENTS threads at once; (answers, failures, latencies in ms, seconds in all)."""
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
    start = threading.Barrier(CLIENTS)

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

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), failures[0], latencies, time.perf_counter() - began


def run(articles: int, repeat: int) -> str:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        database = folder / "archive.db"
        archive = SqlArchive(f"sqlite:///{database}")
        rate = fill(archive, articles)
        process, base = _serve(folder, database)
        try:
            lines = [
                f"{articles:,} articles (stored at {rate:,.0f}/s); each query {repeat} times, interleaved.",
                "",
                "| query | in-process p50 / p95 ms | API round trip p50 / p95 ms "
                "| round trip p95 / in-process | API server time p50 / p95 ms "
                "| server time p95 / in-process | web page server time p50 / p95 ms |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            with httpx.Client(base_url=base, timeout=60) as session:
                for label, query in QUERIES.items():
                    node = parse_query(query)
                    ours, api, server, page = [], [], [], []
                    api_call = partial(session.get, "/api/v1/articles", params={"q": query, "limit": 50})
                    for _ in range(5):  # warm
                        archive.search(node, SearchFilters(limit=50))
                        api_call()
                    for _ in range(repeat):
                        ours.append(_timed(partial(archive.search, node, SearchFilters(limit=50))))
                        began = time.perf_counter()
                        server.append(_server_time(api_call()))
                        api.append((time.perf_counter() - began) * 1000)
                        page.append(_server_time(session.get("/", params={"q": query})))
                    lines.append(
                        f"| {label} | {statistics.median(ours):.2f} / {_p95(ours):.2f} | "
                        f"{statistics.median(api):.2f} / {_p95(api):.2f} | {_p95(api) / _p95(ours):.1f}x | "
                        f"{statistics.median(server):.2f} / {_p95(server):.2f} | "
                        f"{_p95(server) / _p95(ours):.1f}x | "
                        f"{statistics.median(page):.2f} / {_p95(page):.2f} |"
                    )
                [first] = archive.search(parse_query("budget"), SearchFilters(limit=1))
            answers, failures, latencies, seconds = _crowd(base, first.article.id)
            lines += [
                "",
                f"{CLIENTS} clients at once, {REQUESTS_EACH} requests each (API and web searches, an "
                f"article, the sources): {answers:,} answers, {failures} not 200, "
                f"{answers / seconds:,.0f} requests/s, p50 {statistics.median(latencies):.0f} ms, "
                f"p95 {_p95(latencies):.0f} ms.",
            ]
        finally:
            process.terminate()
            process.wait(timeout=60)
            archive.close()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = run(args.articles, args.repeat)
    print(body)
    if not args.no_write:
        packages = ["fastapi", "uvicorn", "SQLAlchemy"]
        write_section(
            "The read side over HTTP (bench/serve.py)", environment("bench.serve", packages) + "\n" + body
        )


if __name__ == "__main__":
    main()
