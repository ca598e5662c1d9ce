"""How an `html` source without selectors tells article links from section links, on real pages.

The extraction benchmark (../shared/bench/extraction) holds 181 real news article pages with
their URLs. Three figures:
- the URL rule (a date, a long number, a page file or a long slug in the path, and no section
  word such as /section/, /tag/ or -index): the share of the real article URLs it takes;
- the pages' own declarations (JSON-LD @type, og:type): how many say article, how many say
  nothing, how many say list (those would be dropped);
- the same-site links in the pages' navigation (<nav>, <header>, <footer>: section fronts
  mostly, a few featured articles): the share the URL rule takes (chrome is skipped anyway; this
  measures the rule alone on real section links).

    python -m bench.listings [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html

from bench.report import environment, write_section
from monitor.ingest.pages.extract import declared_kind
from monitor.ingest.pages.listings import looks_like_article_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "extraction"
_CHROME = ("nav", "header", "footer")


def measure() -> tuple[int, int, Counter[str | None], int, int]:
    """Article URLs, those the rule takes, declarations, navigation links, those the rule takes."""
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    taken = navigation = navigation_taken = 0
    declared: Counter[str | None] = Counter()
    for key, item in truth.items():
        url = item["url"]
        taken += looks_like_article_path(urlsplit(url).path)
        html = gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        declared[declared_kind(html)] += 1
        root = lxml.html.document_fromstring(
            html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
        host = urlsplit(url).hostname
        links = {
            urljoin(url, anchor.get("href", "")).split("#")[0]
            for anchor in root.iter("a")
            if any(parent.tag in _CHROME for parent in anchor.iterancestors())
        }
        for link in links:
            parts = urlsplit(link)
            if parts.hostname == host and parts.path.strip("/") and link != url:
                navigation += 1
                navigation_taken += looks_like_article_path(parts.path)
    return len(truth), taken, declared, navigation, navigation_taken


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (DATA / "ground-truth.json").exists():
        print(f"no extraction benchmark at {DATA}: skipped")
        return
    pages, taken, declared, navigation, navigation_taken = measure()
    body = "\n".join(
        [
            f"{pages} real article pages (../shared/bench/extraction) and the {navigation} same-site",
            "links of their navigation (nav, header, footer: section fronts mostly).",
            "",
            "| measure | count | share |",
            "| --- | ---: | ---: |",
            f"| article URLs the URL rule takes | {taken} / {pages} | {taken / pages:.1%} |",
            f"| navigation links the URL rule takes | {navigation_taken} / {navigation} | "
            f"{navigation_taken / navigation:.1%} |",
            f"| article pages declaring an article (JSON-LD, og:type) | {declared['article']} / {pages} | "
            f"{declared['article'] / pages:.1%} |",
            f"| article pages declaring nothing | {declared[None]} / {pages} | "
            f"{declared[None] / pages:.1%} |",
            f"| article pages declaring a list (would be dropped) | {declared['listing']} / {pages} | "
            f"{declared['listing'] / pages:.1%} |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(
            "Listing pages: article links (bench/listings.py)",
            environment("bench.listings", ["lxml"]) + "\n" + body,
        )


if __name__ == "__main__":
    main()
