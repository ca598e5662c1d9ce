"""Story ids in the archive: a new article joins the story of its closest recent near-duplicate,
found through the fingerprints' band keys, inside the transaction that stores it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, select

from monitor.archive.tables import articles, story_bands
from monitor.models import Article
from monitor.stories import StoryGrouping, band_keys, best_copy, pack

QUERY_CHUNK = 10_000  # bound parameters per query, well under SQLite's limit
Candidate = tuple[str, str, bytes, datetime]  # article id, story, packed fingerprint, fetched


def assign_stories(
    connection: Connection, batch: Sequence[Article], grouping: StoryGrouping
) -> list[Article]:
    """The articles (all new) with their stories: each joins the story of the most similar
    article fetched within the window before it, archived or earlier in the batch, else keeps
    its own. One query for the whole batch."""
    bands_of = {
        article.id: band_keys(article.fingerprint) if article.fingerprint else [] for article in batch
    }
    wanted = sorted({band for bands in bands_of.values() for band in bands})
    by_band: dict[int, list[Candidate]] = {}
    if wanted:
        earliest = min(article.fetched for article in batch) - grouping.window
        for chunk in _chunks(wanted):
            rows = connection.execute(
                select(
                    story_bands.c.band,
                    articles.c.id,
                    articles.c.story,
                    articles.c.fingerprint,
                    story_bands.c.fetched,
                )
                .join(articles, story_bands.c.article_id == articles.c.id)
                .where(story_bands.c.band.in_(chunk), story_bands.c.fetched >= earliest)
            )
            for row in rows:
                by_band.setdefault(row.band, []).append((row.id, row.story, row.fingerprint, row.fetched))
    placed: list[Article] = []
    for article in batch:
        story = article.story
        if article.fingerprint:
            since = article.fetched - grouping.window
            candidates = {
                other: (other_story, blob)
                for band in bands_of[article.id]
                for other, other_story, blob, fetched in by_band.get(band, ())
                if other != article.id and fetched >= since
            }
            best = best_copy(article.fingerprint, list(candidates.values()), grouping.similarity)
            story = best[0] if best else story
            packed = pack(article.fingerprint)
            for band in bands_of[article.id]:
                by_band.setdefault(band, []).append((article.id, story, packed, article.fetched))
        placed.append(replace(article, story=story))
    return placed


def index_bands(connection: Connection, batch: Sequence[Article]) -> None:
    rows = [
        {"band": band, "article_id": article.id, "fetched": article.fetched}
        for article in batch
        if article.fingerprint
        for band in band_keys(article.fingerprint)
    ]
    if rows:
        connection.execute(story_bands.insert(), rows)


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(values), QUERY_CHUNK):
        yield values[start : start + QUERY_CHUNK]
