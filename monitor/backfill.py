"""Backfill: run a new or changed rule over the archive, show what it would have caught, and
optionally record the hits and alert on them (an already alerted story is not alerted again)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.dispatch import Dispatcher
from monitor.archive import Archive, SearchFilters
from monitor.models import ArchivedArticle, Hit
from monitor.names import name_key
from monitor.rules import CompiledRule, MatchInput
from monitor.rules.match import rule_hits

MAX_ARTICLES = 100_000


@dataclass(frozen=True, slots=True)
class Caught:
    archived: ArchivedArticle
    hits: tuple[Hit, ...]
    new: bool  # the archive did not yet record this rule's hits for the article


async def backfill(
    archive: Archive,
    dispatcher: Dispatcher,
    rule: CompiledRule,
    since: datetime | None,
    alert: bool,
) -> list[Caught]:
    found = await asyncio.to_thread(archive.search, rule.node, SearchFilters(since=since, limit=MAX_ARTICLES))
    caught: list[Caught] = []
    for archived in found:
        article = archived.article
        document = MatchInput(article.title, article.teaser, article.text, article.source, article.language)
        hits = tuple(rule_hits(rule, document))
        # Its hits under another spelling of its name are its own (archive.rule_names).
        known = {name_key(name) for name in article.rules}
        caught.append(Caught(archived, hits, new=name_key(rule.name) not in known))
    if alert:
        for item in caught:
            if item.new:
                with_rule = replace(item.archived.article, hits=item.hits)
                outbox = dispatcher.outbox_for(with_rule)
                await asyncio.to_thread(archive.add_hits, with_rule.id, item.hits, outbox, dispatcher.clock())
        await dispatcher.dispatch()
    return caught
