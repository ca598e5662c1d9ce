"""Encoding detection on real feeds and pages with their declarations taken away.

Every feed in ../shared/bench/feeds (the `chardet` folder is a labelled corpus of legacy CJK,
Hebrew, Cyrillic, Greek, Thai and Central European feeds) and every page of the extraction
benchmark that declares its encoding (XML declaration or <meta charset>) is read twice: decoded
as declared, and, with the declaration removed, decoded as the detector guesses. A file counts
as read right when both give the same text. Files with fewer than MIN_NON_ASCII bytes of
non-ASCII text are left out (any guess reads ASCII alike).

    python -m bench.charsets [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import charset_normalizer

from bench.report import environment, write_section
from monitor.ingest.parse.charsets import canonical, guess, is_utf8

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
MIN_NON_ASCII = 200
_XML_ENCODING = re.compile(rb"""(<\?xml[^>]*?)\s+encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_META_CHARSET = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?([A-Za-z0-9._-]+)["']?[^>]*>""", re.IGNORECASE
)

Detector = Callable[[bytes], str | None]


def undeclared(body: bytes) -> tuple[str, bytes] | None:
    """The declared encoding and the body without its declaration(s), or None if undeclared."""
    declared = _XML_ENCODING.search(body[:1024])
    if declared:
        return declared.group(2).decode("ascii"), _XML_ENCODING.sub(rb"\1", body, count=1)
    meta = _META_CHARSET.search(body[:8192])
    if meta:
        return meta.group(1).decode("ascii"), _META_CHARSET.sub(b"", body)
    return None


def files() -> Iterator[tuple[str, bytes]]:
    feeds = SHARED / "feeds"
    for path in sorted(feeds.rglob("*")):
        if path.is_file() and path.suffix not in (".json", ".md") and "LICENSE" not in path.name:
            yield str(path.relative_to(feeds)), path.read_bytes()
    for path in sorted((SHARED / "extraction" / "html").glob("*.html.gz")):
        yield f"pages/{path.name[:12]}", gzip.decompress(path.read_bytes())


def _decoded(body: bytes, encoding: str | None) -> str | None:
    try:
        return body.decode(canonical(encoding or "utf-8"), errors="replace")
    except LookupError:
        return None


def charset_normalizer_alone(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[:65536]).best()
    return best.encoding if best else None


def charset_normalizer_with_utf8_first(body: bytes) -> str | None:
    return "utf-8" if is_utf8(body) else charset_normalizer_alone(body)


DETECTORS: dict[str, Detector] = {
    "**ours** (UTF-8 check, then chardetng)": guess,
    "charset-normalizer alone": charset_normalizer_alone,
    "UTF-8 check, then charset-normalizer": charset_normalizer_with_utf8_first,
}


def measure() -> tuple[int, dict[str, Counter[str]], dict[str, list[str]]]:
    """How many files count, and per detector the files read right per group and those misread."""
    right: dict[str, Counter[str]] = {name: Counter() for name in DETECTORS}
    wrong: dict[str, list[str]] = {name: [] for name in DETECTORS}
    counted = 0
    for name, body in files():
        found = undeclared(body)
        if found is None:
            continue
        declared, stripped = found
        expected = _decoded(stripped, declared)
        if expected is None or sum(1 for byte in stripped if byte > 127) < MIN_NON_ASCII:
            continue
        counted += 1
        group = name.split("/")[1] if name.startswith("chardet/") else name.split("/")[0]
        for detector, detect in DETECTORS.items():
            if _decoded(stripped, detect(stripped)) == expected:
                right[detector][group] += 1
            else:
                wrong[detector].append(f"{name} ({declared} read as {detect(stripped)})")
    return counted, right, wrong


def table(counted: int, right: dict[str, Counter[str]], wrong: dict[str, list[str]]) -> str:
    lines = [
        f"{counted} real feeds and pages (../shared/bench: feeds, the chardet corpus, extraction pages)",
        f"with at least {MIN_NON_ASCII} bytes of non-ASCII text, their encoding declarations removed; a",
        "file is read right when the detector's guess gives the same text as the declaration.",
        "",
        "| detector | read right | share |",
        "| --- | ---: | ---: |",
    ]
    for detector, groups in right.items():
        total = sum(groups.values())
        lines.append(f"| {detector} | {total} / {counted} | {total / counted:.1%} |")
    ours = next(iter(DETECTORS))
    lines += ["", "Misread by ours: " + ("; ".join(wrong[ours]) or "none") + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (SHARED / "feeds").exists():
        print(f"no corpus at {SHARED}: skipped")
        return
    counted, right, wrong = measure()
    body = table(counted, right, wrong)
    print(body)
    for detector, misread in wrong.items():
        print(f"\n{detector}: {len(misread)} misread: {misread}")
    if not args.no_write:
        packages = ["chardetng-py", "charset-normalizer"]
        write_section(
            "Encoding detection (bench/charsets.py)", environment("bench.charsets", packages) + "\n" + body
        )


if __name__ == "__main__":
    main()
