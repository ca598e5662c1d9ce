"""Story grouping: precision and recall of near-duplicate detection, per similarity threshold.

Every copy of the generated corpus (bench/story_corpus.py) is stored, in arrival order, in a
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
from bench.story_corpus import Copy, corpus, pair_scores
from monitor.archive.sql import SqlArchive
from monitor.models import Article
from monitor.stories import StoryGrouping, fingerprint

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
        archive.store([article], [])
    elapsed = time.perf_counter() - started
    stories = []
    for article in articles:
        stored = archive.article(article.id)
        assert stored is not None
        stories.append(stored.article.story)
    archive.close()
    return stories, elapsed / len(articles) * 1000


def table(copies: list[Copy], rows: list[tuple[float, float, float, float]]) -> str:
    families = len({copy.family for copy in copies if copy.family >= 0})
    lines = [
        f"Corpus: {len(copies)} articles, {families} stories (a third in Chinese), each with a wire",
        "copy in other boilerplate, a new first sentence, two sentences edited, the last third cut",
        "(and, in Chinese, a Traditional-script copy): all must share the story; each story's",
        "follow-up reuses two background sentences and must not. Pairs of articles are scored.",
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
    families: int, thresholds: tuple[float, ...] = THRESHOLDS
) -> tuple[list[Copy], list[tuple[float, ...]]]:
    copies = corpus(families)
    rows: list[tuple[float, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        for threshold in thresholds:
            stories, milliseconds = group(copies, StoryGrouping(similarity=threshold), Path(folder))
            precision, recall = pair_scores(copies, stories)
            rows.append((threshold, precision, recall, milliseconds))
    return copies, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", type=int, default=60)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    copies, rows = measure(args.families)
    body = table(copies, rows)  # type: ignore[arg-type]
    print(body)
    if not args.no_write:
        write_section(
            "Story grouping (bench/stories.py)", environment("bench.stories", ["SQLAlchemy"]) + "\n" + body
        )


if __name__ == "__main__":
    main()
