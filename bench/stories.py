"""Story grouping: precision and recall of near-duplicate detection, per similarity threshold.

Every copy of the generated corpora (bench/story_corpus.py: full texts, feed-length texts
whose pages could not be fetched, and the shortest of those) is stored, in arrival order, in a
real SQLite archive, which assigns story ids as the daemon does; pairs of copies then count as
true or false positives. The threshold in force (`stories: similarity:`) is marked.

    python -m bench.stories [--families N] [--no-write]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import environment, write_section
from bench.story_corpus import Copy, corpus, pair_scores, short_corpus, tiny_corpus
from monitor.archive.sql import SqlArchive
from monitor.models import Article
from monitor.near_duplicates import StoryGrouping, fingerprint

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
START = datetime(2026, 11, 1, tzinfo=UTC)


def group(copies: list[Copy], grouping: StoryGrouping, folder: Path) -> tuple[list[str], float]:
    """The story id the archive gives each copy, and the milliseconds per stored article."""
    archive = SqlArchive(f"sqlite:///{folder / f'stories-{grouping.similarity}.db'}", grouping)
    articles = [
        Article(
            id=f"a{index}",
            url=f"https://outlet{index % 7}.test/{index}",
            guid=f"a{index}",
            source=f"Outlet {index % 7}",
            title=copy.title,
            teaser="",
            text=copy.text,
            summary="",
            published=START,
            fetched=START + timedelta(minutes=index),
            language=None,
            story=f"a{index}",
            fingerprint=fingerprint(copy.title, copy.text),
        )
        for index, copy in enumerate(copies)
    ]
    started = time.perf_counter()
    for article in articles:
        archive.store_new([article], [])
    elapsed = time.perf_counter() - started
    stories = []
    for article in articles:
        stored = archive.article(article.id)
        assert stored is not None
        stories.append(stored.article.story)
    archive.close()
    return stories, elapsed / len(articles) * 1000


DESCRIPTIONS = {
    "full": (
        "Full texts: {articles} articles, {stories} stories (a third in Chinese), each with a wire copy in\n"
        "other boilerplate, a new first sentence, two sentences edited, the last third cut (and, in\n"
        "Chinese, a Traditional-script copy): all must share the story; each story's follow-up\n"
        "reuses two background sentences and must not. Pairs of articles are scored."
    ),
    "short": (
        "Feed texts only (the page could not be fetched): {articles} articles, {stories} stories of 25 to\n"
        "60 words (40 to 110 characters in Chinese, a third), each with copies under headlines of\n"
        "their own: one word changed, a dateline added (and, in Chinese, a Traditional-script copy);\n"
        "each story's follow-up, as long again, reuses one sentence and must not join."
    ),
    "tiny": (
        "The short end of feed texts: {articles} articles, {stories} stories of 25 to 30 words (40 to 54\n"
        "characters in Chinese) under headlines of 9 or 10 words (18 to 20 characters), which weigh as\n"
        "much as the text; copies and follow-ups as above. Reported, not a target: a follow-up here\n"
        "shares up to half its text with the story."
    ),
}
CORPORA = {"full": corpus, "short": short_corpus, "tiny": tiny_corpus}


def table(name: str, copies: list[Copy], rows: list[tuple[float, float, float, float]]) -> str:
    stories = len({copy.family for copy in copies if copy.family >= 0})
    lines = [
        DESCRIPTIONS[name].format(articles=len(copies), stories=stories),
        "",
        "| similarity threshold | precision | recall | ms per stored article |",
        "| ---: | ---: | ---: | ---: |",
    ]
    default = StoryGrouping().similarity
    for threshold, precision, recall, milliseconds in rows:
        mark = " (default)" if threshold == default else ""
        lines.append(f"| {threshold}{mark} | {precision:.3f} | {recall:.3f} | {milliseconds:.2f} |")
    return "\n".join(lines)


def measure(
    copies: list[Copy], thresholds: tuple[float, ...] = THRESHOLDS
) -> list[tuple[float, float, float, float]]:
    rows: list[tuple[float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for threshold in thresholds:
            stories, milliseconds = group(copies, StoryGrouping(similarity=threshold), Path(folder))
            precision, recall = pair_scores(copies, stories)
            rows.append((threshold, precision, recall, milliseconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", type=int, default=60, help="stories per corpus")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    tables = []
    for name, make in CORPORA.items():
        copies = make(args.families)
        tables.append(table(name, copies, measure(copies)))
    body = "\n\n".join(tables)
    print(body)
    if not args.no_write:
        write_section(
            "Story grouping (bench/stories.py)", environment("bench.stories", ["SQLAlchemy"]) + "\n" + body
        )


if __name__ == "__main__":
    main()
