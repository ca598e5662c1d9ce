"""Changed passes with one, two and three `monitor run` daemons sharing a PostgreSQL archive.

The feed farm (bench/farm.py, its own process) serves 2,000 feeds over 500 loopback addresses;
1,000 watch rules; fetch concurrency 32 and per host 2 in each daemon, as bench/fetching.py. For
each number of daemons, a database made from one template holding the farm's generation 0 (the
archive a pass has already read, seeded directly: setup, not timed); the daemons are started,
every source is made due once to learn the feeds' validators (not timed), then the farm moves a
generation on (5 new items with full content in every feed) and every source is made due again:
the pass lasts from then until every source has recorded its poll. Two such passes by default
(the farm a generation on each time); the best is reported, and the others beside it. It is
the real daemon, end to end: claims with leases, per-host turns in the database, fetch, parse,
match, group stories, store (stores of copies of one story take turns across daemons), alert
rows and their sends (to a JSON Lines file).

The farm renders each feed once per generation; it is asked for every feed before a pass, so its
rendering is not in the pass. Machine CPU use over the pass is read from /proc/stat.

    python -m bench.daemons [--daemons 1,2,3] [--feeds 2000] [--hosts 500] [--rules 1000]
                             [--repeat 2] [--no-write]

PostgreSQL: MONITOR_BENCH_POSTGRESQL (default postgresql://postgres@127.0.0.1:5432/test, the
development machine's); the databases made are dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.fetching import Farm, config, running_farm, seed_archive
from bench.postgres import new_database
from bench.report import environment, write_section
from monitor.app import build_app
from monitor.config.settings import Settings
from monitor.runtime import event_loop
from monitor.runtime.scheduler import SHUTDOWN_GRACE

CONCURRENCY = 32
PORT = 8710
STARTED = "monitor running:"  # the daemon's log line once its jobs are scheduled


@dataclass
class Pass:
    daemons: int
    seconds: float
    articles: int
    matched: int
    cpu_busy: float  # share of the machine's CPU time busy during the pass
    unsent: int  # alerts not yet sent when the pass ended
    others: tuple[float, ...] = ()  # the seconds of the other passes of as many daemons (this is the best)


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


async def _warm(farm: Farm) -> None:
    """Ask the farm for every feed once, so its rendering of this generation is done."""
    limits = httpx.Limits(max_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(url: str) -> None:
            async with gate:
                (await client.get(url)).raise_for_status()

        await asyncio.gather(*(one(url) for url in farm.urls()))


def _make_due(url: str) -> datetime:
    """Every source due now; returns the moment, as the archive stores times (naive UTC)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE sources SET next_due = %s", (now,))
    return now


def _wait_for_pass(url: str, since: datetime, feeds: int, timeout: float = 900) -> float:
    """Seconds from now until every source recorded a poll after `since`."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        while time.perf_counter() - started < timeout:
            row = connection.execute(
                "SELECT count(*) FROM sources WHERE last_fetch >= %s", (since,)
            ).fetchone()
            if row is not None and row[0] >= feeds:
                return time.perf_counter() - started
            time.sleep(0.05)
    raise RuntimeError(f"the pass did not end within {timeout:.0f} s")


def _counts(url: str) -> tuple[int, int, int]:
    """Articles, matched articles, and alerts waiting to be sent."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE matched = 1), "
            "(SELECT count(*) FROM alerts WHERE state = 'pending') FROM articles"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@contextmanager
def _daemons(count: int, config_file: Path, folder: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` daemons started and running their jobs; stopped with SIGTERM at the end."""
    logs = [folder / f"daemon{index}.log" for index in range(count)]
    processes = []
    for log in logs:
        with log.open("wb") as stderr:  # the daemon holds its own copy of the file
            command = [sys.executable, "-m", "monitor", "-c", str(config_file), "run"]
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr))
    try:
        deadline = time.monotonic() + 120
        while not all(STARTED in log.read_text(errors="replace") for log in logs):
            if any(process.poll() is not None for process in processes) or time.monotonic() > deadline:
                raise RuntimeError(
                    "a daemon did not start:\n" + "\n".join(log.read_text()[-2000:] for log in logs)
                )
            time.sleep(0.1)
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process, log in zip(processes, logs, strict=True):
            # A stopping daemon finishes its polls and sends, each for up to SHUTDOWN_GRACE.
            if process.wait(timeout=4 * SHUTDOWN_GRACE) != 0:
                raise RuntimeError(f"a daemon exited with {process.returncode}:\n{log.read_text()[-2000:]}")


def _template(
    server: str, farm: Farm, folder: Path, rules: int, stack: ExitStack
) -> tuple[str, dict[str, object]]:
    """A database holding the farm's generation 0 and the sources, none of them due."""
    url = stack.enter_context(new_database(server, "daemons_template"))
    settings = config(farm.urls(), folder, CONCURRENCY, rules)
    settings["storage"] = {"url": url}
    app = build_app(Settings.model_validate(settings), "bench")
    try:
        seed_archive(app, farm, generation=0)
    finally:
        event_loop.run(app.aclose())
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE sources SET next_due = now() + interval '1 day'")
        connection.execute("VACUUM ANALYZE")  # as autovacuum would soon: not in the middle of a pass
    return url, settings


def measure(
    counts: list[int], feeds: int, hosts: int, rules: int, repeat: int = 2, port: int = PORT
) -> list[Pass]:
    """For each number of daemons, the best of `repeat` changed passes (the farm a generation on
    each time), with the seconds of the others."""
    server = os.environ.get("MONITOR_BENCH_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/test")
    passes = []
    with running_farm(feeds, hosts, port) as farm, tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        farm.set_generation(0)
        template, settings = _template(server, farm, folder, rules, stack)
        for count in counts:
            with new_database(server, f"daemons_{count}", template=template.rsplit("/", 1)[1]) as url:
                config_file = folder / f"daemons{count}.json"
                config_file.write_text(json.dumps({**settings, "storage": {"url": url}}))
                farm.set_generation(0)
                event_loop.run(_warm(farm))
                with _daemons(count, config_file, folder):
                    _wait_for_pass(url, _make_due(url), feeds)  # the validators of generation 0
                    timed = [
                        _changed_pass(url, farm, count, generation) for generation in range(1, repeat + 1)
                    ]
            best = min(timed, key=lambda one: one.seconds)
            best.others = tuple(one.seconds for one in timed if one is not best)
            passes.append(best)
            print(f"{count} daemon(s): {', '.join(f'{one.seconds:.1f}' for one in timed)} s", file=sys.stderr)
    return passes


def _changed_pass(url: str, farm: Farm, count: int, generation: int) -> Pass:
    feeds = len(farm.urls())
    farm.set_generation(generation)
    event_loop.run(_warm(farm))
    before, matched_before, _ = _counts(url)
    busy, total = _cpu_times()
    seconds = _wait_for_pass(url, _make_due(url), feeds)
    busy_after, total_after = _cpu_times()
    after, matched_after, unsent = _counts(url)
    with psycopg.connect(url) as connection:
        failed = connection.execute(
            "SELECT name, last_error FROM sources WHERE last_error IS NOT NULL"
        ).fetchall()
    if failed:
        raise RuntimeError(f"{len(failed)} polls failed, e.g. {failed[0]}")
    share = (busy_after - busy) / max(total_after - total, 1)
    return Pass(count, seconds, after - before, matched_after - matched_before, share, unsent)


def table(passes: list[Pass], feeds: int, hosts: int, rules: int) -> str:
    one = passes[0].seconds if passes and passes[0].daemons == 1 else None
    lines = [
        f"{feeds:,} feeds over {hosts:,} loopback addresses (bench/farm.py, its own process), each",
        f"with 5 new items of full content; {rules:,} watch rules; per daemon concurrency {CONCURRENCY},",
        f"per host 2 (shared). {os.cpu_count()} cores for the daemons, PostgreSQL and the farm.",
        "New articles, matched ones and alerts unsent are counted the moment the last source recorded",
        "its poll (a few matched articles may still be getting their hits); unsent alerts include the",
        "earlier pass's still waiting: the sends (one archive write each) trail the polls in a burst.",
        "",
        "| daemons | changed pass, s (best; others) | feeds/s | articles/s | new articles | matched "
        "| alerts unsent at its end | CPU busy | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in passes:
        speed_up = f"{one / p.seconds:.2f}x" if one else "—"
        others = "; " + ", ".join(f"{seconds:.1f}" for seconds in p.others) if p.others else ""
        lines.append(
            f"| {p.daemons} | {p.seconds:.1f}{others} | {feeds / p.seconds:,.0f} "
            f"| {p.articles / p.seconds:,.0f} "
            f"| {p.articles:,} | {p.matched:,} | {p.unsent:,} | {p.cpu_busy:.0%} | {speed_up} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--daemons", default="1,2,3")
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2, help="changed passes per number of daemons")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    counts = [int(count) for count in args.daemons.split(",")]
    passes = measure(counts, args.feeds, args.hosts, args.rules, args.repeat)
    body = table(passes, args.feeds, args.hosts, args.rules)
    print(body)
    if not args.no_write:
        versions = environment("bench.daemons", ["httpx", "psycopg", "SQLAlchemy"])
        write_section("Several daemons on PostgreSQL (bench/daemons.py)", versions + "\n" + body)


if __name__ == "__main__":
    main()
