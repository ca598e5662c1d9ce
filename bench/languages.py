"""Language tags of undeclared articles against the real feeds' declared languages.

For every feed in ../shared/bench/feeds whose channel declares a language, each entry with at
least 100 letters of text is identified as if nothing were declared, and the primary subtag is
compared with the declared one (brought to its macrolanguage: `zh-TW` is `zh`). Raw py3langid is
the baseline; ours maps its varieties (`wuu`, `yue`, `arz`, ...) to the macrolanguage.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.report import environment, write_section
from monitor.errors import MonitorError
from monitor.ingest.parse.feeds import parse_feed
from monitor.ingest.parse.language import detect_language
from monitor.language_codes import macrolanguage

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "feeds"
MIN_LETTERS = 100


def samples(corpus: Path) -> list[tuple[str, str, str]]:
    """(file, declared primary language, entry text) for each usable entry."""
    manifest = json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8"))
    found = []
    for item in manifest:
        declared = macrolanguage(item.get("language"))
        if not declared:
            continue
        body = (corpus / item["path"]).read_bytes()
        try:
            parsed = parse_feed(body, f"https://bench.test/{item['path']}", {}, datetime.now(UTC))
        except MonitorError:
            continue
        for entry in parsed.entries:
            text = f"{entry.title}\n{entry.summary or entry.content}"
            if sum(char.isalpha() for char in text) >= MIN_LETTERS:
                found.append((item["path"], declared.split("-")[0], text))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent")
        return
    import py3langid

    rows = samples(CORPUS)
    ours = raw = 0
    misses: Counter[tuple[str, str]] = Counter()
    for _, declared, text in rows:
        detected = (detect_language(text) or "").split("-")[0]
        ours += detected == declared
        raw += str(py3langid.classify(text[:2000])[0]) == declared
        if detected != declared:
            misses[declared, detected or "none"] += 1
    languages = Counter(declared for _, declared, _ in rows)
    mix = ", ".join(f"{code} {count}" for code, count in languages.most_common())
    body = (
        f"{len(rows)} entries ({MIN_LETTERS}+ letters) of {len({path for path, _, _ in rows})} real feeds "
        f"that declare a language ({mix}); "
        "the share whose identified language is the declared one.\n\n"
        "| identifier | agree |\n| --- | ---: |\n"
        f"| raw py3langid | {raw / len(rows):.1%} |\n| ours (macrolanguages) | {ours / len(rows):.1%} |\n\n"
        "Our most frequent disagreements (declared -> identified): "
        + ", ".join(f"{a} -> {b} ({count})" for (a, b), count in misses.most_common(8))
    )
    print(body)
    if not args.no_write:
        write_section(
            "Language tags (bench/languages.py)",
            environment("bench.languages", ["py3langid"]) + "\n" + body,
        )


if __name__ == "__main__":
    main()
