"""Story ids in the archive: a new article joins the story of its closest recent near-duplicate,
found through the fingerprints' band keys, inside the transaction that stores it."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.archive.bulk import IN_JSON, insert_rows, json_list
from monitor.archive.tables import stored_datetime
from monitor.models import Article
from monitor.near_duplicates import StoryGrouping, band_keys, best_copy, pack

MOST_COMPARED = 32  # candidates compared in full with a new article, those sharing most bands
MOST_PER_BAND = 64  # the most recent articles of a band key read as candidates
# The most recent articles of each band key, fetched since a time (as stored: text in time order).
_RECENT_IN_BANDS = (
    "SELECT band, article_id, fetched FROM (SELECT band, article_id, fetched, "
    "row_number() OVER (PARTITION BY band ORDER BY fetched DESC) AS recent FROM story_bands "
    f"WHERE band IN {IN_JSON} AND fetched >= ?) WHERE recent <= {MOST_PER_BAND}"
)
_PRINTS = f"SELECT id, story, fingerprint FROM articles WHERE id IN {IN_JSON} AND fingerprint IS NOT NULL"

Candidates = dict[int, list[tuple[str, str]]]  # band key -> (article id, fetched as stored)


class BandIndex(Protocol):
    """The two reads story grouping makes of an archive, in the transaction storing the batch."""

    def recent_in_bands(self, bands: list[int], since: str) -> Iterable[tuple[int, str, str]]:
        """(band, article id, fetched as stored_datetime writes it) of the most recent
        MOST_PER_BAND articles of each band key fetched at `since` (as stored) or later."""
        ...

    def prints(self, ids: list[str]) -> Iterable[tuple[str, str, bytes]]:
        """(id, story, packed fingerprint) of those of these articles that have a fingerprint."""
        ...


class SqliteBands:
    """BandIndex on a driver cursor of SQLite's storing transaction."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor

    def recent_in_bands(self, bands: list[int], since: str) -> Iterable[tuple[int, str, str]]:
        return self.cursor.execute(_RECENT_IN_BANDS, (json_list(bands), since))

    def prints(self, ids: list[str]) -> Iterable[tuple[str, str, bytes]]:
        return self.cursor.execute(_PRINTS, (json_list(ids),))


def assign_stories(
    index: BandIndex, batch: Sequence[Article], grouping: StoryGrouping
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
    by_band: Candidates = {}
    if wanted:
        earliest = stored_datetime(min(article.fetched for article in batch) - grouping.window)
        for band, article_id, fetched in index.recent_in_bands(wanted, earliest):
            by_band.setdefault(band, []).append((article_id, fetched))
    closest = {
        article.id: _most_shared(article, bands_of[article.id], by_band, grouping) for article in batch
    }
    wanted_prints = sorted({other for others in closest.values() for other in others})
    known = (
        {id_: (story, print_) for id_, story, print_ in index.prints(wanted_prints)} if wanted_prints else {}
    )
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
            fetched = stored_datetime(article.fetched)
            for band in bands_of[article.id]:
                by_band.setdefault(band, []).append((article.id, fetched))
            batch_bands.update(bands_of[article.id])
        placed.append(replace(article, story=story))
    return placed, bands_of


def _most_shared(
    article: Article,
    bands: list[int],
    by_band: Candidates,
    grouping: StoryGrouping,
) -> list[str]:
    """The articles fetched within the window before this one that share most of its bands."""
    since = stored_datetime(article.fetched - grouping.window)
    shared = Counter(
        other
        for band in bands
        for other, fetched in by_band.get(band, ())
        if other != article.id and fetched >= since
    )
    return [other for other, _ in shared.most_common(MOST_COMPARED)]


def band_rows(batch: Sequence[Article], bands_of: dict[str, list[int]]) -> list[tuple[int, str, datetime]]:
    """The story_bands rows of a batch just placed: (band, article id, fetched)."""
    return [(band, article.id, article.fetched) for article in batch for band in bands_of.get(article.id, ())]


def index_bands(cursor: sqlite3.Cursor, batch: Sequence[Article], bands_of: dict[str, list[int]]) -> None:
    rows = [(band, id_, stored_datetime(fetched)) for band, id_, fetched in band_rows(batch, bands_of)]
    insert_rows(cursor, "story_bands", ("band", "article_id", "fetched"), rows)
