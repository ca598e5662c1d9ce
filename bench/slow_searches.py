"""The read side under a crowd of slow searches (`monitor serve`, a real process on loopback):
`--clients` threads each ask, for `--seconds`, searches that may run up to the time limit (NOT
alone, which reads every article; short prefixes, which the index gathers in memory; a word
and a NOT or a field that reject what the index finds; a filter few articles pass) or counts
(of every match of the rule, as the rules' and the mentions' routes do, and the sources'), while
/healthz and a quick search (`budget`, a few milliseconds alone) are asked every 0.2 s.
Reported: their latencies, the crowd's searches answered (200) and refused (503: stopped at the
limit, or the server busy), and the server's peak memory (VmHWM). Over bench.serve's archive
of generated articles; `--mix` picks the searches.

    python -m bench.slow_searches [--articles 1000000] [--archive PATH] [--clients 60]
        [--seconds 20] [--mix all|prefix|scan|verify|filter|counts] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from bench.report import environment, write_section
from bench.serve import _archive, _p95, _serve

SEARCH = "/api/v1/articles"
MIXES: dict[str, list[tuple[str, dict[str, str]]]] = {  # paths and their parameters
    "all": [(SEARCH, {"q": "NOT budget"}), (SEARCH, {"q": "ka*"}), (SEARCH, {"q": "NOT lo*"})],
    "prefix": [(SEARCH, {"q": "ka*"})],
    "scan": [(SEARCH, {"q": "NOT budget"}), (SEARCH, {"q": "NOT lo*"})],
    "verify": [(SEARCH, {"q": "budget -budget"}), (SEARCH, {"q": "title:budget"})],
    "filter": [(SEARCH, {"lang": "zz"}), (SEARCH, {"q": "budget", "lang": "zz"})],
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


def run(articles: int, kept: Path | None, clients: int, seconds: float, mix: str) -> str:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = folder / "monitor.yaml"
        database = kept or folder / "archive.db"
        config.write_text(yaml.safe_dump({"storage": {"url": f"sqlite:///{database}"}, **CONFIG}))
        archive, filled = _archive(database, articles)
        archive.close()
        process, base = _serve(config)
        try:
            answers, probes, quick = _crowd(base, MIXES[mix], clients, seconds)
            peak = _peak_megabytes(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)
    shown = ", ".join(f"`{_address(path, params)}`" for path, params in MIXES[mix])
    return (
        f"{filled}; {clients} clients asking {shown} (limit: the default 10 s) for {seconds:g} s, "
        f"/healthz and `budget` every {PROBE_EVERY:g} s meanwhile.\n\n"
        f"/healthz: {_spread(probes)}. `budget`: {_spread(quick)}. "
        f"The crowd's searches: {answers.get(200, 0)} answered, {answers.get(503, 0)} refused "
        f"(stopped at the limit, or the server busy), "
        f"{sum(answers.values()) - answers.get(200, 0) - answers.get(503, 0)} other. "
        f"The server's peak memory: {peak} MB."
    )


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


def _peak_megabytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--archive", type=Path, help="keep the generated archive here, for the next run")
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--mix", choices=sorted(MIXES), default="all")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    kept = args.archive.resolve() if args.archive else None
    body = run(args.articles, kept, args.clients, args.seconds, args.mix)
    print(body)
    if not args.no_write:
        write_section(
            f"Slow searches at once (bench/slow_searches.py, {args.mix})",
            environment("bench.slow_searches", ["uvicorn", "SQLAlchemy"]) + "\n" + body,
        )


if __name__ == "__main__":
    main()
