"""The parse stage alone over the real-feed corpus in ../shared/bench/feeds (skipped when absent).

ours      monitor.ingest.parse.feeds.parse_feed: encoding repair, the lxml fast path for well-formed
          RSS/RDF/Atom 1.0, feedparser for the rest, JSON Feed, text extraction of every field
peer      feedparser.parse with its defaults (sanitizing, relative-URI resolution)
limit     lxml.etree.fromstring, the bare XML parse (JSON Feeds: json.loads)

    python -m bench.parsing [--rounds N] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from lxml import etree

from bench.report import environment, write_section
from monitor.errors import ParseError
from monitor.ingest.parse.feeds import parse_feed

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "feeds"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
_RECOVERING = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)


def load(corpus: Path = CORPUS) -> list[tuple[str, bytes, int]]:
    manifest = json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8"))
    return [
        (item["path"], (corpus / item["path"]).read_bytes(), item["feedparser_entries"] or 0)
        for item in manifest
    ]


def ours(path: str, body: bytes) -> int:
    try:
        return len(parse_feed(body, f"https://feeds.test/{path}", {}, NOW).entries)
    except ParseError:
        return 0


def peer(path: str, body: bytes) -> int:
    return len(feedparser.parse(body).entries)


def limit(path: str, body: bytes) -> int:
    if body.lstrip()[:1] == b"{":
        json.loads(body)
        return 0
    etree.fromstring(body.lstrip(), _RECOVERING)
    return 0


def feeds_per_second(
    files: list[tuple[str, bytes, int]], parse: Callable[[str, bytes], int], rounds: int
) -> tuple[float, int]:
    best, entries = float("inf"), 0
    for _ in range(rounds):
        started = time.perf_counter()
        entries = sum(parse(path, body) for path, body, _ in files)
        best = min(best, time.perf_counter() - started)
    return len(files) / best, entries


def table(rows: dict[str, tuple[float, int]], files: int, manifest_entries: int) -> str:
    ours_rate = rows["ours"][0]
    lines = [
        f"{files} real feeds (../shared/bench/feeds: RSS, Atom, RDF, JSON Feed; 18 malformed), best of the",
        "rounds; entries counted over the whole corpus.",
        "",
        "| parser | feeds/s | entries | ours / it |",
        "| --- | ---: | ---: | ---: |",
    ]
    labels = {
        "ours": "ours (parse_feed)",
        "peer": "feedparser defaults (peer)",
        "limit": "lxml bare parse (limit)",
    }
    for key, (rate, entries) in rows.items():
        shown = f"{entries:,}" if key != "limit" else "—"
        lines.append(f"| {labels[key]} | {rate:,.0f} | {shown} | {ours_rate / rate:.2f} |")
    lines.append("")
    lines.append(f"feedparser's own count in MANIFEST.json: {manifest_entries:,} entries.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (CORPUS / "MANIFEST.json").exists():
        print(f"skipped: no feed corpus at {CORPUS}")
        return
    files = load()
    rows = {
        "ours": feeds_per_second(files, ours, args.rounds),
        "peer": feeds_per_second(files, peer, args.rounds),
        "limit": feeds_per_second(files, limit, args.rounds),
    }
    body = table(rows, len(files), sum(count for _, _, count in files))
    print(body)
    if not args.no_write:
        versions = environment("bench.parsing", ["feedparser", "lxml"])
        write_section("Parse stage (bench/parsing.py)", versions + "\n" + body)


if __name__ == "__main__":
    main()
