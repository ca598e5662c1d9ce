"""Article-extraction quality and speed on the benchmark in ../shared/bench/extraction/ (181
real pages with ground truth; skipped when the data is absent).

The score is the benchmark's published metric, re-implemented: tokens are `\\w+` runs; each
text becomes a multiset of 4-token shingles; per page, true positives are the shingles both
texts hold, false positives the extra ones predicted, false negatives the missing ones, the
three normalized to sum to 1; precision and recall are means over the pages (precision over
pages that predicted something, recall over pages whose truth holds something; 1 and 1 when a
page has neither false positives nor false negatives); F1 is their harmonic mean. The stored
predictions of other extractors are scored the same way, which checks the scorer against the
published table (trafilatura 2.0 F1 0.958, newspaper4k 0.949, readability-lxml 0.922).

Ours is `monitor.ingest.pages.extract.extract_page` on the raw bytes: decoding, trafilatura, our
clean-up, timed per page; with and without the page's metadata (title, date, author).

    python -m bench.extraction [--data DIR] [--limit N] [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.report import environment, write_section
from monitor.errors import ParseError
from monitor.ingest.pages.extract import extract_page

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "extraction"
_TOKEN = re.compile(r"\w+")
PEERS = ("trafilatura", "newspaper", "readability", "goose3", "justext", "html-text")


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    accuracy: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(1, len(tokens) - 3))) if tokens else Counter()


def _page(true: str, predicted: str) -> tuple[float, float, float]:
    truth, guess = _shingles(true), _shingles(predicted)
    tp = sum((truth & guess).values())
    fp = sum((guess - truth).values())
    fn = sum((truth - guess).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(pairs: Iterable[tuple[str, str]]) -> Score:
    precisions: list[float] = []
    recalls: list[float] = []
    exact = count = 0
    for true, predicted in pairs:
        count += 1
        exact += _TOKEN.findall(true) == _TOKEN.findall(predicted)
        tp, fp, fn = _page(true, predicted)
        if fp == 0 and fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    return Score(_mean(precisions), _mean(recalls), exact / count if count else 0.0)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def load(data: Path) -> dict[str, dict[str, str]]:
    truth: dict[str, dict[str, str]] = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return truth


def ours(data: Path, truth: dict[str, dict[str, str]], metadata: bool) -> tuple[Score, list[float]]:
    pairs: list[tuple[str, str]] = []
    milliseconds: list[float] = []
    for item, expected in truth.items():
        body = gzip.decompress((data / "html" / f"{item}.html.gz").read_bytes())
        started = time.perf_counter()
        try:
            text = extract_page(body, expected["url"], "text/html", metadata).text
        except ParseError:
            text = ""
        milliseconds.append((time.perf_counter() - started) * 1000)
        pairs.append((expected["articleBody"], text))
    return score(pairs), milliseconds


def peer(data: Path, name: str, truth: dict[str, dict[str, str]]) -> Score | None:
    path = data / "output" / f"{name}.json"
    if not path.exists():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    predictions = stored.get("output", stored)
    return score(
        (expected["articleBody"], (predictions.get(item) or {}).get("articleBody") or "")
        for item, expected in truth.items()
    )


def _row(label: str, found: Score, milliseconds: list[float] | None) -> str:
    timing = "—"
    if milliseconds:
        ordered = sorted(milliseconds)
        timing = f"{statistics.median(ordered):.1f}, {ordered[int(len(ordered) * 0.95) - 1]:.1f}"
    return (
        f"| {label} | {found.f1:.3f} | {found.precision:.3f} | {found.recall:.3f} | "
        f"{found.accuracy:.3f} | {timing} |"
    )


def table(mine: dict[str, tuple[Score, list[float]]], peers: dict[str, Score], pages: int) -> str:
    lines = [
        f"{pages} pages of the Zyte article-extraction benchmark; metric: precision/recall over",
        "4-token shingles, as published (see the module docstring). Peers are scored from their",
        "stored predictions in the data set with the same scorer.",
        "",
        "| extractor | F1 | precision | recall | exact | ms/page (median, p95) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        _row(f"**ours**, {label}", found, milliseconds) for label, (found, milliseconds) in mine.items()
    ]
    lines += [_row(f"{name} (stored output)", found, None) for name, found in peers.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (args.data / "ground-truth.json").exists():
        print(f"skipped: no benchmark data at {args.data}")
        return
    truth = load(args.data)
    if args.limit:
        truth = dict(list(truth.items())[: args.limit])
    mine = {
        "text (the pipeline, when the feed gives title and date)": ours(args.data, truth, False),
        "text + metadata (`monitor extract`; entries without a date)": ours(args.data, truth, True),
    }
    peers = {name: found for name in PEERS if (found := peer(args.data, name, truth)) is not None}
    body = table(mine, peers, len(truth))
    print(body)
    if not args.no_write:
        versions = environment("bench.extraction", ["trafilatura", "lxml"])
        write_section("Article extraction (bench/extraction.py)", versions + "\n" + body)


if __name__ == "__main__":
    main()
