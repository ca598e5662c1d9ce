"""Alert latency: from an item appearing in a feed to the webhook POST that announces it.

`monitor run` polls 20 sources `every: 30s` (immediate alert to a webhook). Each feed gets one
matching item at a random moment after the first poll; the time from that moment to the POST
is the latency. Target: p95 within the interval plus 2 s.

    python -m bench.latency [--sources 20] [--every 30] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from bench.report import environment, write_section


class Feeds:
    """Feeds that each show one item once its moment has come."""

    def __init__(self, count: int) -> None:
        self.appear: dict[int, float] = {}
        self.received: dict[str, float] = {}
        self.lock = threading.Lock()
        self.count = count

    def body(self, index: int, base: str) -> bytes:
        item = ""
        moment = self.appear.get(index)
        if moment is not None and time.time() >= moment:
            stamp = format_datetime(datetime.now(UTC), usegmt=True)
            item = (
                f"<item><title>Iron Dome battery {index}</title><link>{base}/a/{index}</link>"
                f"<guid>{base}/a/{index}</guid><pubDate>{stamp}</pubDate>"
                f"<description>Iron Dome battery inspected: {_distinct(index)}.</description></item>"
            )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
            f"<link>{base}/</link><description>latency</description>{item}</channel></rss>"
        ).encode()


_WORDS = [
    *("coast", "radar", "crews", "budget", "harbour", "north", "village", "bridge", "winter", "tests"),
    *("ministry", "engineers", "launcher", "night", "convoy", "school", "airport", "river"),
    *("mountain", "market", "rail", "storm", "island", "capital"),
]


def _distinct(index: int) -> str:
    """Eight words of its own for each item: items of different sources are different stories,
    not copies of one (which would be alerted once)."""
    rng = random.Random(index)
    return " ".join(rng.sample(_WORDS, 8))


def _address(server: socketserver.BaseServer) -> tuple[str, int]:
    address = server.server_address
    if not isinstance(address, tuple):
        raise TypeError(f"not an IP server: {address!r}")
    return str(address[0]), int(address[1])


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            index = int(self.path.strip("/").split(".")[0])
            host, port = _address(self.server)
            body = feeds.body(index, f"http://{host}:{port}")
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with feeds.lock:
                feeds.received.setdefault(payload["article"]["url"], time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(sources: int, every: int, seed: int = 3) -> list[float]:
    feeds = Feeds(sources)
    server = serve(feeds)
    host, port = _address(server)
    base = f"http://{host}:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = {
            "storage": {"url": f"sqlite:///{folder / 'monitor.db'}"},
            "fetch": {"host_gap": "0s", "per_host": 8},
            "defaults": {"full_text": "never"},
            "sources": [
                {"name": f"f{i}", "url": f"{base}/{i}.xml", "every": f"{every}s"} for i in range(sources)
            ],
            "watch": [{"name": "Iron Dome", "terms": ["Iron Dome"]}],
            "alerts": [{"name": "desk", "notify": [{"webhook": f"{base}/hook"}]}],
        }
        (folder / "monitor.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "-c", str(folder / "monitor.yaml"), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            rng = random.Random(seed)
            start = time.time() + 5  # after the first poll
            for index in range(sources):
                feeds.appear[index] = start + rng.uniform(0, 2 * every)
            deadline = start + 3 * every + 10
            while len(feeds.received) < sources and time.time() < deadline:
                time.sleep(0.2)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            server.shutdown()
            server.server_close()
    latencies = []
    for index in range(sources):
        got = feeds.received.get(f"{base}/a/{index}")
        latencies.append(got - feeds.appear[index] if got else float("inf"))
    return latencies


def table(latencies: list[float], every: int) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return "\n".join(
        [
            f"{len(latencies)} sources polled every {every} s by `monitor run`, one new matching item",
            "each at a random moment; latency from the item's appearance to the webhook POST.",
            "",
            "| p50 | p95 | max | target (p95) |",
            "| ---: | ---: | ---: | ---: |",
            f"| {statistics.median(ordered):.1f} s | {p95:.1f} s | {ordered[-1]:.1f} s | ≤ {every + 2} s |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = table(measure(args.sources, args.every), args.every)
    print(body)
    if not args.no_write:
        write_section(
            "Alert latency (bench/latency.py)", environment("bench.latency", ["httpx"]) + "\n" + body
        )


if __name__ == "__main__":
    main()
