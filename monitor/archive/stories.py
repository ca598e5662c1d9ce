"""Story ids in the archive: a new article joins the story of its closest recent near-duplicate,
found through the fingerprints' band keys, inside the transaction that stores it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, func, select

from monitor.archive.bulk import insert_rows
from monitor.archive.tables import articles, stored_datetime, story_bands
from monitor.models import Article
from monitor.stories import StoryGrouping, band_keys, best_copy, pack

QUERY_CHUNK = 10_000  # bound parameters per query, well under SQLite's limit
MOST_COMPARED = 32  # candidates compared in full with a new article, those sharing most bands
MOST_PER_BAND = 64  # the most recent articles of a band key read as candidates


def assign_stories(
    connection: Connection, batch: Sequence[Article], grouping: StoryGrouping
) -> tuple[list[Article], dict[str, list[int]]]:
    """The articles (all new) with their stories, and the band keys of each (by id): each joins
    the story of the most similar article fetched within the window before it, archived or
    earlier in the batch, else keeps its own.

    Candidates are the articles sharing a band key (the most recent MOST_PER_BAND of each);
    only the MOST_COMPARED sharing the most bands are compared in full (a much-copied story has
    hundreds of members, and those sharing most bands are the likeliest to be the closest).
    Two queries for the whole batch.
    """
    bands_of = {
        article.id: band_keys(article.fingerprint) if article.fingerprint else [] for article in batch
    }
    wanted = sorted({band for bands in bands_of.values() for band in bands})
    by_band: dict[int, list[tuple[str, datetime]]] = {}
    if wanted:
        earliest = min(article.fetched for article in batch) - grouping.window
        for chunk in _chunks(wanted):
            recent = func.row_number().over(
                partition_by=story_bands.c.band, order_by=story_bands.c.fetched.desc()
            )
            ranked = (
                select(
                    story_bands.c.band,
                    story_bands.c.article_id,
                    story_bands.c.fetched,
                    recent.label("recent"),
                )
                .where(story_bands.c.band.in_(chunk), story_bands.c.fetched >= earliest)
                .subquery()
            )
            rows = connection.execute(
                select(ranked.c.band, ranked.c.article_id, ranked.c.fetched).where(
                    ranked.c.recent <= MOST_PER_BAND
                )
            )
            for band, article_id, fetched in rows:
                by_band.setdefault(band, []).append((article_id, fetched))
    closest = {
        article.id: _most_shared(article, bands_of[article.id], by_band, grouping) for article in batch
    }
    known = _prints(connection, {other for others in closest.values() for other in others})
    placed: list[Article] = []
    batch_bands: set[int] = set()  # the bands of the batch's articles placed so far
    for article in batch:
        story = article.story
        if article.fingerprint:
            nearest = closest[article.id]
            if not batch_bands.isdisjoint(bands_of[article.id]):
                # Again, with the batch's earlier articles as candidates too (they can only push
                # archived ones out of the closest, so those were all fetched above).
                nearest = _most_shared(article, bands_of[article.id], by_band, grouping)
            candidates = [known[other] for other in nearest if other in known]
            best = best_copy(article.fingerprint, candidates, grouping.similarity)
            story = best[0] if best else story
            known[article.id] = (story, pack(article.fingerprint))
            for band in bands_of[article.id]:
                by_band.setdefault(band, []).append((article.id, article.fetched))
            batch_bands.update(bands_of[article.id])
        placed.append(replace(article, story=story))
    return placed, bands_of


def _most_shared(
    article: Article,
    bands: list[int],
    by_band: dict[int, list[tuple[str, datetime]]],
    grouping: StoryGrouping,
) -> list[str]:
    """The articles fetched within the window before this one that share most of its bands."""
    since = article.fetched - grouping.window
    shared = Counter(
        other
        for band in bands
        for other, fetched in by_band.get(band, ())
        if other != article.id and fetched >= since
    )
    return [other for other, _ in shared.most_common(MOST_COMPARED)]


def _prints(connection: Connection, ids: set[str]) -> dict[str, tuple[str, bytes]]:
    """The story and packed fingerprint of these archived articles."""
    found: dict[str, tuple[str, bytes]] = {}
    chosen = sorted(ids)
    for start in range(0, len(chosen), QUERY_CHUNK):
        rows = connection.execute(
            select(articles.c.id, articles.c.story, articles.c.fingerprint).where(
                articles.c.id.in_(chosen[start : start + QUERY_CHUNK]), articles.c.fingerprint.is_not(None)
            )
        )
        found.update((row.id, (row.story, row.fingerprint)) for row in rows)
    return found


def index_bands(connection: Connection, batch: Sequence[Article], bands_of: dict[str, list[int]]) -> None:
    rows: list[tuple[int, str, str]] = []
    for article in batch:
        fetched = stored_datetime(article.fetched)
        rows += [(band, article.id, fetched) for band in bands_of.get(article.id, ())]
    insert_rows(connection, "story_bands", ("band", "article_id", "fetched"), rows)


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(values), QUERY_CHUNK):
        yield values[start : start + QUERY_CHUNK]
