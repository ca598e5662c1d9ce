"""Polling passes against the feed farm (bench/farm.py, a separate process), as ratios.

1. Unchanged pass: every source answers 304. Ours (the full pipeline: claim-free poll of all
   sources, conditional GET through the egress gate, schedule bookkeeping in the archive)
   against the limit: plain httpx.AsyncClient GETs of the same URLs, with the same validators,
   at the same concurrency, doing nothing else. Also the farm alone, with a trivial client,
   to show it is not the bottleneck.
2. Changed pass: every source has 5 new items with full content; 1,000 watch rules. Ours, end
   to end (fetch, parse, dedupe, match, summarize, group stories, store, enqueue alerts),
   against the peer lemon24/reader (fetch, parse, store; no matching) updating the same farm.
   Both start from the farm's previous generation already stored: ours seeded directly into
   the archive, reader by its own update (setup, not timed).

    python -m bench.fetching [--feeds 2000] [--hosts 500] [--concurrency 32] [--profile] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.farm import NEW_PER_GENERATION, feed_url
from bench.farm import Farm as FarmFeeds
from bench.report import environment, write_section
from monitor.app import App, build_app
from monitor.config.settings import Settings
from monitor.ingest.parse.normalize import article_id, canonical_url
from monitor.models import Article
from monitor.runtime import event_loop

PORT = 8700


@dataclass
class Farm:
    feeds: int
    hosts: int
    port: int
    items: int = 0

    def urls(self) -> list[str]:
        return [feed_url(index, self.hosts, self.port) for index in range(self.feeds)]

    def set_generation(self, generation: int) -> None:
        httpx.get(f"http://127.1.0.1:{self.port}/generation?set={generation}", timeout=10).raise_for_status()


@contextlib.contextmanager
def running_farm(feeds: int, hosts: int, port: int = PORT, items: int = 0) -> Iterator[Farm]:
    command = ["--feeds", str(feeds), "--hosts", str(hosts), "--port", str(port), "--items", str(items)]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.farm", *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the feed farm did not start")
        yield Farm(feeds, hosts, port, items)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


async def trivial_client(farm: Farm, concurrency: int, requests: int) -> float:
    """Requests/s the farm serves to a raw asyncio client (keep-alive, one request in flight per
    connection, nothing parsed but the status line and Content-Length): the farm's capacity."""
    urls = farm.urls()

    async def worker(offset: int) -> int:
        done = 0
        connections: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        for index in range(offset, requests, concurrency):
            host, _, path = urls[index % len(urls)].removeprefix("http://").partition("/")
            if host not in connections:
                name, port = host.split(":")
                connections[host] = await asyncio.open_connection(name, int(port))
            reader, writer = connections[host]
            etag = f'"{index % len(urls)}-0"'
            writer.write(f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nIf-None-Match: {etag}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            done += 1
        for _, writer in connections.values():
            writer.close()
        return done

    started = time.perf_counter()
    total = sum(await asyncio.gather(*(worker(offset) for offset in range(concurrency))))
    return total / (time.perf_counter() - started)


async def plain_gets(urls: list[str], concurrency: int, headers: list[dict[str, str]]) -> float:
    """Seconds for plain httpx GETs of every URL at this concurrency (the limit)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(url: str, extra: dict[str, str]) -> None:
            async with gate:
                await client.get(url, headers=extra)

        started = time.perf_counter()
        await asyncio.gather(*(one(url, extra) for url, extra in zip(urls, headers, strict=True)))
        return time.perf_counter() - started


def watch_rules(count: int, seed: int = 5) -> list[dict[str, str]]:
    """Rules over the farm's vocabulary and generated terms: a few match, most do not."""
    rng = random.Random(seed)
    real = ['"Iron Dome"', '"T-Dome"', "台灣之盾", "アイアンドーム", '"כיפת ברזל"', '"Железный купол"']
    rules = [{"name": f"real{i}", "query": query} for i, query in enumerate(real)]
    letters = "bcdfghjklmnpqrstvwxz"
    while len(rules) < count:
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(5, 8))) for _ in range(3)]
        rules.append({"name": f"rule{len(rules)}", "query": f'{words[0]} OR "{words[1]} {words[2]}"'})
    return rules


def settings(urls: list[str], folder: Path, concurrency: int, rules: int) -> Settings:
    return Settings.model_validate(config(urls, folder, concurrency, rules))


def config(urls: list[str], folder: Path, concurrency: int, rules: int) -> dict[str, object]:
    """The monitor's configuration for the farm's feeds (also written to a file for `monitor run`)."""
    return {
        "storage": {"url": f"sqlite:///{folder / 'monitor.db'}"},
        "fetch": {"concurrency": concurrency, "per_host": 2, "host_gap": "0s", "timeout": "60s"},
        "defaults": {"full_text": "never"},
        "sources": [{"name": f"feed{index}", "url": url} for index, url in enumerate(urls)],
        "watch": watch_rules(rules),
        "alerts": [{"name": "desk", "notify": [{"jsonl": str(folder / "alerts.jsonl")}]}],
        "base_dir": str(folder),
    }


async def our_pass(app: App) -> tuple[float, int, int]:
    started = time.perf_counter()
    reports = await app.poll()
    elapsed = time.perf_counter() - started
    failed = [report for report in reports if report.error]
    if failed:
        raise RuntimeError(f"{len(failed)} sources failed, e.g. {failed[0].error}")
    return elapsed, sum(report.new for report in reports), sum(report.matched for report in reports)


def seed_archive(app: App, farm: Farm, generation: int) -> int:
    """Store every item the farm shows at this generation, as the pipeline would have."""
    sizes = FarmFeeds(farm.feeds, items=farm.items).sizes  # the farm's own sizes, same seed
    now = datetime.now(UTC)
    articles = []
    for index, url in enumerate(farm.urls()):
        newest = sizes[index] + NEW_PER_GENERATION * generation
        for number in range(newest - sizes[index], newest):
            link = canonical_url(url.rsplit("/feed/", 1)[0] + f"/article/{index}/{number}.html")
            key = article_id(link)
            articles.append(
                Article(
                    key, link, f"farm-{index}-{number}", f"feed{index}", "", "", "", "", now, now, None, key
                )
            )
    for start in range(0, len(articles), 5000):
        app.archive.store_new(articles[start : start + 5000], [])
    return len(articles)


def reader_pass(urls: list[str], folder: Path, farm: Farm, concurrency: int) -> tuple[float, int]:
    """Seconds for lemon24/reader to update every feed once the farm moved a generation on."""
    from reader import make_reader

    peer = make_reader(str(folder / "reader.sqlite"))
    for url in urls:
        peer.add_feed(url, exist_ok=True)
    farm.set_generation(0)
    peer.update_feeds(workers=concurrency, scheduled=False)  # setup: the previous generation, stored
    before = peer.get_entry_counts().total or 0
    farm.set_generation(1)
    started = time.perf_counter()
    peer.update_feeds(workers=concurrency, scheduled=False)
    elapsed = time.perf_counter() - started
    added = (peer.get_entry_counts().total or 0) - before
    peer.close()
    return elapsed, added


@dataclass
class Results:
    feeds: int
    concurrency: int
    rules: int
    farm_alone: float = 0.0
    unchanged_ours: float = 0.0
    unchanged_limit: float = 0.0
    changed_ours: float = 0.0
    changed_articles: int = 0
    changed_matched: int = 0
    changed_reader: float = 0.0
    reader_articles: int = 0
    profile: str = ""


def measure(
    feeds: int,
    hosts: int,
    concurrency: int,
    rules: int,
    profile: bool,
    with_reader: bool = True,
    port: int = PORT,
) -> Results:
    results = Results(feeds, concurrency, rules)
    with running_farm(feeds, hosts, port) as farm, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = farm.urls()
        farm.set_generation(0)
        etags = [{"If-None-Match": f'"{index}-0"'} for index in range(feeds)]
        results.farm_alone = event_loop.run(trivial_client(farm, concurrency, max(feeds, 4000)))
        event_loop.run(plain_gets(urls, concurrency, etags))  # warm-up
        results.unchanged_limit = event_loop.run(plain_gets(urls, concurrency, etags))

        app = build_app(settings(urls, folder, concurrency, rules), "bench")
        seed_archive(app, farm, generation=0)
        gc.collect()
        gc.freeze()

        async def passes() -> None:
            await our_pass(app)  # learns the validators of generation 0
            results.unchanged_ours = (await our_pass(app))[0]
            farm.set_generation(1)
            results.changed_ours, results.changed_articles, results.changed_matched = await our_pass(app)
            if profile:
                results.profile = await _profiled_pass(app, farm)
            await app.aclose()

        event_loop.run(passes())
        if with_reader:
            results.changed_reader, results.reader_articles = reader_pass(urls, folder, farm, concurrency)
    return results


async def _profiled_pass(app: App, farm: Farm) -> str:
    from pyinstrument import Profiler

    farm.set_generation(2)
    profiler = Profiler(async_mode="enabled")
    profiler.start()
    await our_pass(app)
    profiler.stop()
    out = io.StringIO()
    out.write(profiler.output_text(unicode=False, color=False, show_all=False))
    return out.getvalue()


def table(results: Results) -> str:
    r = results
    feeds = r.feeds
    lines = [
        f"{feeds:,} feeds of 20-100 items over {feeds // 4:,} loopback addresses (bench/farm.py, its own",
        f"process); concurrency {r.concurrency} everywhere; per host 2; {r.rules:,} watch rules in the",
        "changed pass.",
        "",
        "| pass | ours | baseline | limit | ours / limit | ours / baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| unchanged (all 304), feeds/s | {feeds / r.unchanged_ours:,.0f} | — | "
        f"{feeds / r.unchanged_limit:,.0f} (plain httpx GETs) | "
        f"{r.unchanged_limit / r.unchanged_ours:.0%} | — |",
    ]
    if r.changed_reader:
        lines.append(
            f"| changed (5 new items each), feeds/s | {feeds / r.changed_ours:,.0f} | "
            f"{feeds / r.changed_reader:,.0f} (reader, no matching) | — | — | "
            f"{r.changed_reader / r.changed_ours:.1f}x |"
        )
    lines += [
        "",
        f"Changed pass, ours: {r.changed_articles:,} new articles in {r.changed_ours:.1f} s "
        f"({r.changed_articles / r.changed_ours:,.0f} articles/s, {r.changed_matched:,} matched); "
        + (f"reader stored {r.reader_articles:,} in {r.changed_reader:.1f} s. " if r.changed_reader else "")
        + f"The farm alone served {r.farm_alone:,.0f} requests/s (304s) to a raw asyncio client.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument(
        "--profile", action="store_true", help="print a pyinstrument profile of a changed pass"
    )
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = measure(args.feeds, args.hosts, args.concurrency, args.rules, args.profile, not args.no_reader)
    body = table(results)
    print(body)
    if results.profile:
        print(results.profile)
    if not args.no_write:
        versions = environment("bench.fetching", ["httpx", "feedparser", "reader"])
        write_section("Polling passes (bench/fetching.py)", versions + "\n" + body)


if __name__ == "__main__":
    main()
