"""A poll's entries to stored articles: the new ones and the changed ones, a lot at a time, with
the source's boilerplate learned from the newest (see monitor.near_duplicates)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

from monitor.archive import Archive
from monitor.config.settings import SourceSettings
from monitor.ingest.parse.normalize import article_id, canonical_url, entry_hash
from monitor.ingest.poll.articles import entry_article
from monitor.ingest.poll.pipeline import Pipeline
from monitor.models import Article, FeedEntry
from monitor.near_duplicates import (
    LEARN_FROM,
    article_shingles,
    fingerprint_hashes,
    pack_shingles,
    remembered_boilerplate,
    repeated_shingles,
)
from monitor.rules.text import tokenize

log = logging.getLogger(__name__)
ANALYSED_AT_ONCE = 32  # articles of one poll read, matched and held at once
LOT_CHARS = 1_000_000  # or fewer, whose feed text comes to this many characters
Work = tuple[str, str, FeedEntry, bool]  # article id, URL, entry, whether new (else updated)


async def store_new(
    pipeline: Pipeline,
    source: SourceSettings,
    entries: Sequence[FeedEntry],
    now: datetime,
    boilerplate: frozenset[int],
) -> tuple[int, int, int, bytes | None]:
    """Store the entries not yet archived, and new versions of this source's archived ones whose
    feed text changed; returns how many were stored, how many updated, how many of those
    matched, and the source's boilerplate shingles when these articles taught new ones (see
    monitor.near_duplicates), fingerprinted without."""
    by_id = articles_of(entries)
    guids = [entry.guid for _, entry in by_id.values()]
    contents = {key: entry_hash(entry) for key, (_, entry) in by_id.items()}
    # An entry whose link and GUID change on every fetch while its text stays is the same
    # article (only entries with a title and a text tell: a sitemap's entries are mostly bare
    # links), if its date or its page (the link but for its query) is too: a daily briefing's
    # title and teaser, on a new date at a new page, are a new article.
    texts = {key: content for key, content in contents.items() if _has_text(by_id[key][1])}
    archived = await asyncio.to_thread(
        pipeline.archive.known_entries, source.name, list(by_id), guids, list(texts.values())
    )
    known, seen_guids, seen_texts = archived.hashes, archived.guids, archived.contents
    fresh = []
    for key, (url, entry) in by_id.items():
        if key in known or entry.guid in seen_guids:
            continue
        alike = seen_texts.get(texts.get(key, ""))
        if alike is not None and _same_article(entry, url, alike):
            continue
        fresh.append((key, url, entry))
    changed = [
        (key, url, entry)
        for key, (url, entry) in by_id.items()
        if known.get(key) and entry.guid in seen_guids and known[key] != contents[key]
    ]
    work: list[Work] = [(key, url, entry, True) for key, url, entry in fresh]
    work += [(key, url, entry, False) for key, url, entry in changed]
    stored = changed_count = matched = 0
    learned: frozenset[int] = frozenset()
    # A few dozen articles at a time, each lot stored before the next is read: a feed of
    # thousands of new items (or pages) would otherwise be held in memory whole.
    for number, lot in enumerate(_lots(work)):
        results = await asyncio.gather(
            *(entry_article(pipeline, source, key, url, entry, now) for key, url, entry, _ in lot)
        )
        kept = [(found, is_new) for found, (*_, is_new) in zip(results, lot, strict=True) if found]
        if number == 0:  # the boilerplate is learned from the first lot, which is the newest
            remembered = boilerplate
            repeated = await _repeated(pipeline, source, [found for found, _ in kept])
            boilerplate = remembered_boilerplate(remembered, repeated)
            learned = boilerplate if boilerplate != remembered else frozenset()
        articles = [
            (replace(article, fingerprint=fingerprint_hashes(shingles - boilerplate)), is_new)
            for (article, shingles), is_new in kept
        ]
        lot_stored, lot_updated, lot_matched = await _write_lot(pipeline, articles)
        stored += lot_stored
        changed_count += lot_updated
        matched += lot_matched
    return stored, changed_count, matched, pack_shingles(learned) if learned else None


def _same_article(entry: FeedEntry, url: str, stored: list[tuple[datetime, datetime, str]]) -> bool:
    """Whether an entry with the text of these stored articles (their publication and fetch
    times and URLs) is one of them: without a date it is; with one, if a stored one has that
    date, or that page (its URL but for the query and fragment: `story0.html?sid=a` and
    `?sid=b` are one page), or was dated by its fetch though its entry gave a date after it (a
    date ahead: this one's, if no earlier than that fetch)."""
    if entry.published is None:
        return True
    published, page = entry.published.astimezone(UTC), _page(url)
    return any(
        when == published or (when == fetched and published >= fetched) or _page(stored_url) == page
        for when, fetched, stored_url in stored
    )


def _page(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def articles_of(entries: Sequence[FeedEntry]) -> dict[str, tuple[str, FeedEntry]]:
    """Each entry under its article's id, with its canonical URL; the first of entries alike.
    Entries at a page several items link to (`shared_page`: a live blog's posts at `#u1`,
    `#u2`; a podcast's episodes at its home page) are each an article, known by their link's
    fragment, else their GUID."""
    by_id: dict[str, tuple[str, FeedEntry]] = {}
    for entry in entries:
        url = canonical_url(entry.url)
        if not entry.shared_page:
            by_id.setdefault(article_id(url), (url, entry))
            continue
        # The link's fragment names the entry (a post's anchor); without one, its GUID does,
        # as a fragment the page ignores (the archive holds one article per URL).
        fragment = entry.url.partition("#")[2] or quote(entry.guid, safe=":/@-._~")
        own = f"{url}#{fragment}"
        by_id.setdefault(article_id(own), (own, entry))
    return by_id


async def _write_lot(pipeline: Pipeline, articles: Sequence[tuple[Article, bool]]) -> tuple[int, int, int]:
    """Store a lot's new articles and update its changed ones (`True`: new); how many were
    stored, how many updated, and how many of those matched (another source's poll may have
    stored an article first: it is neither)."""
    new = [article for article, is_new in articles if is_new]
    outbox = [row for article in new for row in pipeline.outbox_for(article)]
    stored_ids = await pipeline.writes.store(new, outbox)
    matched = sum(1 for article in new if article.hits and article.id in stored_ids)
    updated = 0
    for article in (article for article, is_new in articles if not is_new):
        log.info("%s: updated (its feed entry changed)", article.url)
        if await asyncio.to_thread(pipeline.archive.update, article, pipeline.outbox_for(article)):
            updated += 1
            matched += bool(article.hits)
    return len(stored_ids), updated, matched


def _lots(work: list[Work]) -> Iterator[list[Work]]:
    """The work in lots of ANALYSED_AT_ONCE entries, or fewer whose feed text comes to
    LOT_CHARS: matching and hashing hold several times a text's size while they run."""
    lot: list[Work] = []
    size = 0
    for item in work:
        entry = item[2]
        lot.append(item)
        size += len(entry.title) + len(entry.summary) + len(entry.content)
        if len(lot) >= ANALYSED_AT_ONCE or size >= LOT_CHARS:
            yield lot
            lot, size = [], 0
    if lot:
        yield lot


async def _repeated(
    pipeline: Pipeline, source: SourceSettings, analysed: Sequence[tuple[Article, set[int]]]
) -> frozenset[int]:
    """The shingles repeated across a poll's newest articles, with the source's articles stored
    last when the poll brings fewer than LEARN_FROM: a feed bringing one item per poll teaches
    its boilerplate as well as one bringing thirty."""
    sample = [shingles for _, shingles in analysed]
    if 0 < len(sample) < LEARN_FROM:
        sample += await asyncio.to_thread(
            _stored_shingles, pipeline.archive, source, LEARN_FROM - len(sample)
        )
    return repeated_shingles(sample)


def _stored_shingles(archive: Archive, source: SourceSettings, limit: int) -> list[set[int]]:
    stored = archive.recent_texts(source.name, limit)
    return [article_shingles(tokenize(title).tokens, tokenize(text).tokens) for title, text in stored]


def _has_text(entry: FeedEntry) -> bool:
    return bool(entry.title.strip() and (entry.summary.strip() or entry.content.strip()))
