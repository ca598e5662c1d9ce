"""Story ids in the archive: a new article joins the story of its closest recent near-duplicate,
found through the fingerprints' band keys, inside the transaction that stores it."""

from __future__ import annotations

from sqlalchemy import Connection, select

from monitor.archive.tables import articles, story_bands
from monitor.models import Article
from monitor.stories import StoryGrouping, band_keys, best_copy


def story_of(connection: Connection, article: Article, grouping: StoryGrouping) -> str:
    """The story of the most similar article fetched within the window, else the article's own."""
    if article.fingerprint is None:
        return article.story
    bands = band_keys(article.fingerprint)
    if not bands:
        return article.story
    candidates = connection.execute(
        select(articles.c.story, articles.c.fingerprint)
        .join(story_bands, story_bands.c.article_id == articles.c.id)
        .where(
            story_bands.c.band.in_(bands),
            story_bands.c.fetched >= article.fetched - grouping.window,
            articles.c.id != article.id,
        )
        .distinct()
    ).all()
    best = best_copy(
        article.fingerprint, [(row.story, row.fingerprint) for row in candidates], grouping.similarity
    )
    return best[0] if best else article.story


def index_bands(connection: Connection, article: Article) -> None:
    if article.fingerprint is None:
        return
    rows = [
        {"band": band, "article_id": article.id, "fetched": article.fetched}
        for band in band_keys(article.fingerprint)
    ]
    if rows:
        connection.execute(story_bands.insert(), rows)
