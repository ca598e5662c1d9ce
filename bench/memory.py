"""Peak memory of `monitor run` with 10,000 configured sources during a pass.

The farm serves 10,000 feeds of 20 items over 2,500 loopback addresses. The archive is seeded
with every item of the farm's first generation (setup), then the farm moves on a generation (5
new items per feed) and the daemon starts: its first pass fetches and parses every feed and
stores 50,000 new articles, matched against 1,000 rules. Peak RSS is the kernel's high-water
mark (VmHWM) of the daemon's process, read when every source has been polled.

    python -m bench.memory [--feeds 10000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.fetching import config, running_farm, seed_archive
from bench.report import environment, write_section
from monitor.app import build_app
from monitor.config.settings import Settings
from monitor.runtime.scheduler import SHUTDOWN_GRACE

TARGET_MB = 250


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _polled(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(
                connection.execute("SELECT count(*) FROM sources WHERE last_fetch IS NOT NULL").fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def measure(feeds: int, rules: int, port: int = 8720) -> dict[str, float]:
    hosts = max(1, feeds // 4)
    with running_farm(feeds, hosts, port=port, items=20) as farm, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = config(farm.urls(), folder, 32, rules)
        for source in data["sources"]:  # type: ignore[attr-defined]
            source["every"] = "1h"
        setup = build_app(Settings.model_validate(data), "bench")
        seed_archive(setup, farm, generation=0)
        setup.archive.close()
        del data["base_dir"]
        (folder / "monitor.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        farm.set_generation(1)
        started = time.perf_counter()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "-c", str(folder / "monitor.yaml"), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak_sampled = 0
        try:
            while _polled(folder / "monitor.db") < feeds:
                if daemon.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {daemon.returncode}")
                peak_sampled = max(peak_sampled, _status(daemon.pid, "VmRSS"))
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
            high_water = _status(daemon.pid, "VmHWM")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:  # it may spend its shutdown grace delivering the alerts it queued
                daemon.wait(timeout=2 * SHUTDOWN_GRACE + 30)
            except subprocess.TimeoutExpired:  # the peak is read already: report it, and this
                daemon.kill()
                daemon.wait()
                print("warning: the daemon did not stop within its shutdown grace", file=sys.stderr)
        with sqlite3.connect(folder / "monitor.db") as connection:
            articles = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    return {"peak": high_water, "sampled": peak_sampled, "seconds": elapsed, "articles": articles}


def table(feeds: int, result: dict[str, float]) -> str:
    return "\n".join(
        [
            f"`monitor run` with {feeds:,} sources (farm: 20 items each, 5 new), 1,000 rules, first pass.",
            "",
            "| peak RSS (VmHWM) | target | pass | articles in the archive after it |",
            "| ---: | ---: | ---: | ---: |",
            f"| {result['peak']:.0f} MB | ≤ {TARGET_MB} MB | {result['seconds']:.0f} s "
            f"| {result['articles']:,.0f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    result = measure(args.feeds, args.rules)
    body = table(args.feeds, result)
    print(body)
    if not args.no_write:
        write_section("Memory (bench/memory.py)", environment("bench.memory", ["httpx"]) + "\n" + body)


if __name__ == "__main__":
    main()
