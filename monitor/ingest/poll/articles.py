"""An entry to its article: the page read when the feed gives only a teaser, the language, the
rules' hits, the summary, and the shingles that will fingerprint it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime

from monitor.config.settings import SourceSettings
from monitor.errors import MonitorError
from monitor.ingest.pages.extract import PageText, extract_page
from monitor.ingest.parse.dates import plausible_date
from monitor.ingest.parse.language import article_language
from monitor.ingest.parse.normalize import entry_hash
from monitor.ingest.poll.pipeline import Pipeline
from monitor.ingest.poll.policy import wants_full_text
from monitor.ingest.poll.reading import HTML_ACCEPT, bounded_parse, egress_policy
from monitor.models import Article, FeedEntry
from monitor.near_duplicates import article_shingles
from monitor.rules import MatchInput
from monitor.rules.automaton import Matcher
from monitor.rules.text import index_fields, previous_boundary

log = logging.getLogger(__name__)
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
# Characters of a title kept: the longest of ../shared/bench/feeds' 5,092 titles has 282. A
# "title" of 200,000 (a feed's whole text in it) made each search page 6 MB and each feed 10 MB.
MOST_TITLE_CHARS = 1_000


def _guessed_from_listing(source: SourceSettings) -> bool:
    return source.kind == "html" and source.selectors is None


async def entry_article(
    pipeline: Pipeline,
    source: SourceSettings,
    key: str,
    url: str,
    entry: FeedEntry,
    now: datetime,
) -> tuple[Article, set[int]] | None:
    """The article an entry makes, with its hashed shingles (to fingerprint once the poll's
    boilerplate is known); None when a link a listing page was guessed to be an article turns
    out to be a list itself, by its page's own word (JSON-LD CollectionPage, ...)."""
    guessed = _guessed_from_listing(source)
    if guessed and url in pipeline.listing_pages:
        return None
    page = await _page(pipeline, source, entry)
    if page is not None and page.declared_kind == "listing" and guessed:
        log.info("%s: skipped, the page says it is a list of articles, not one", entry.url)
        pipeline.remember_listing_page(url)
        return None
    # Matching and hashing run in a worker thread: however long one article takes, the event
    # loop goes on polling, dispatching and answering signals.
    article, shingles = await asyncio.to_thread(
        _analysed, pipeline.matcher, source, key, url, entry, page, now
    )
    body_field = "text" if article.text else "summary"
    summary = await pipeline.summarizer.summarize(
        article.title, article.text or entry.summary, body_field, list(article.hits)
    )
    return replace(article, summary=summary), shingles


def _analysed(
    matcher: Matcher,
    source: SourceSettings,
    key: str,
    url: str,
    entry: FeedEntry,
    page: PageText | None,
    now: datetime,
) -> tuple[Article, set[int]]:
    """The article an entry (and its page) makes, matched, with its hashed shingles; summary and
    fingerprint to come."""
    title, text, published, language = entry.title, entry.content, entry.published, entry.language
    feed_text = entry.summary
    if page is not None:
        if page.text and entry.content and entry.content not in entry.summary:
            # The page's text replaces the feed's, but what the feed said still counts: a
            # Hebrew teaser over an English page holds terms the page does not.
            feed_text = f"{entry.summary}\n{entry.content}".strip()
        text = page.text or text
        title = title or page.title
        published = published or plausible_date(page.published, now)
        language = language or page.language
    title = headline(title)
    language = source.language or article_language(language, f"{title}\n{feed_text}\n{text}")
    document = MatchInput(title, feed_text, text, source.name, language)
    hits = matcher.match(document)
    body_field = "text" if text else "summary"
    title_tokens, teaser_tokens = document.field("title").tokens, document.field("summary").tokens
    body_tokens = document.field(body_field).tokens
    article = Article(
        id=key,
        url=url,
        guid=entry.guid,
        source=source.name,
        title=title,
        teaser=feed_text,
        text=text,
        summary="",
        # Not after its fetch: a date ahead (a source's clock, a local time without its zone)
        # would head every newest-first list until its time came.
        published=min(published, now) if published else now,
        fetched=now,
        language=language,
        story=key,
        hits=tuple(hits),
        content_hash=entry_hash(entry),
        index_text=index_fields(title_tokens, teaser_tokens, document.field("text").tokens),
    )
    return article, article_shingles(title_tokens, body_tokens)


async def _page(pipeline: Pipeline, source: SourceSettings, entry: FeedEntry) -> PageText | None:
    """The article page's extracted text, when the entry has only a teaser and the page may and
    can be read; None keeps the feed's own text (the reason is logged)."""
    if not entry.has_page:
        return None
    if not wants_full_text(pipeline.settings.full_text(source), entry.title, entry.summary, entry.content):
        return None
    policy = egress_policy(source)
    refusal = await pipeline.robots.refusal(pipeline.fetcher, entry.url, policy) if source.robots else None
    if refusal is not None:
        log.debug("%s: kept the feed text, %s", entry.url, refusal)
        return None
    metadata = not (entry.title and entry.published)  # the page's title or date is needed
    try:
        async with pipeline.fetcher.fetched(
            entry.url, policy=policy, content=True, accept=HTML_ACCEPT, types=PAGE_TYPES
        ) as response:
            page = await bounded_parse(
                response.url, extract_page, response.body, response.url, response.content_type, metadata
            )
    except MonitorError as error:
        log.info("%s: kept the feed text, the page could not be read: %s", entry.url, error)
        return None
    if not page.text:
        log.info("%s: kept the feed text, no main text found on the page", entry.url)
    return page


def headline(title: str) -> str:
    """The title, cut after MOST_TITLE_CHARS at a space (where it has one; else where no
    character as a reader sees it is split: a flag, a letter and its accent) with an ellipsis."""
    if len(title) <= MOST_TITLE_CHARS:
        return title
    space = title.rfind(" ", MOST_TITLE_CHARS // 2, MOST_TITLE_CHARS + 1)
    cut = space if space > 0 else previous_boundary(title, MOST_TITLE_CHARS, MOST_TITLE_CHARS // 2)
    return title[:cut].rstrip() + "…"
