"""PostgresArchive: the Archive port on PostgreSQL, shared by every daemon of a desk.

Sources' schedule (sources_sql.py) and the alert outbox (outbox_sql.py) are the SQLite
adapter's own components, written in SQLAlchemy Core for both backends; articles are stored
(pg_articles.py) and searched (pg_search.py) on psycopg's cursor, with the full-text index of
the matcher's tokens that pg_text.py writes."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from monitor.archive import JobHold, KnownEntries, OutboxRow, SearchFilters
from monitor.archive.connections import operation
from monitor.archive.outbox_sql import SqlOutbox
from monitor.archive.pg_articles import (
    Cursor,
    PostgresBands,
    insert_alerts,
    insert_articles,
    insert_hits,
    take_story_turns,
    take_turns,
    unstored,
    update_article,
)
from monitor.archive.pg_estimate import IndexStatistics, index_statistics
from monitor.archive.pg_hosts import PostgresHostTurns
from monitor.archive.pg_search import (
    archived,
    article_rows,
    naive_utc,
    newest_matches,
    newest_of_all,
    rule_arrivals,
)
from monitor.archive.pg_text import index_ask
from monitor.archive.postgres import PostgresConnections
from monitor.archive.rule_names import RuleSpellings, respell_rules
from monitor.archive.search import language_asked_of_the_matcher
from monitor.archive.sources_sql import SourceSchedule, SqlSources
from monitor.archive.stats_sql import SqlStats
from monitor.archive.stories import assign_stories, band_rows
from monitor.archive.tables import sources as source_rows
from monitor.archive.time_limits import Deadline, postgres_time_limit
from monitor.archive.writes import rows_of_stored, rows_of_update
from monitor.models import ArchivedArticle, Article, Hit
from monitor.near_duplicates import StoryGrouping
from monitor.rules import Node
from monitor.rules.match import compile_node

_KNOWN_IDS = "SELECT id, content_hash FROM articles WHERE id = ANY(%s)"
_KNOWN_GUIDS = "SELECT guid FROM articles WHERE source = %s AND guid = ANY(%s)"
_KNOWN_CONTENTS = (
    "SELECT content_hash, published, fetched, url FROM articles WHERE source = %s AND content_hash = ANY(%s)"
)
_RECENT = "SELECT title, text, teaser FROM articles WHERE source = %s ORDER BY seq DESC LIMIT %s"
_PURGE = "DELETE FROM articles WHERE matched = %s AND fetched < %s"
# s the server lets a statement of a search limited in work run (time_limits.work_done counts
# its time): one begun within the work allowed may end past it, its rows kept. Stopped at the
# work allowed (0.1 s), a crowd's searches of 0.1-0.3 s of statements each on a busy server had
# 120 of their trials thrown away in 20 s, and answered 560-610 times against 650 with this.
STATEMENT_IN_WORK_LIMIT = 1.0
STATISTICS_KEPT = 60.0  # seconds the index's statistics are kept: search's plan needs them roughly


class PostgresArchive(SourceSchedule):
    """The Archive port on a PostgreSQL database (or one schema of it)."""

    def __init__(self, url: str, stories: StoryGrouping | None = None, schema: str | None = None) -> None:
        self.stories = stories or StoryGrouping()
        self.db = PostgresConnections(url, schema)
        self.outbox = SqlOutbox(self.db)
        self.sources = SqlSources(self.db)
        self.spellings = RuleSpellings(self.db)
        self.stats = SqlStats(self.db, self.spellings)
        self.host_turns = PostgresHostTurns(self.db)
        self._statistics = (IndexStatistics(), -STATISTICS_KEPT)  # (statistics, when read)

    shared = True

    def close(self) -> None:
        self.db.close()

    @operation("taking a job")
    def hold_job(self, name: str) -> JobHold | None:
        return self.db.advisory_lock(name)

    @operation("checking the archive")
    def damage(self) -> list[str]:
        """Nothing to report: the server keeps its own files whole (a failing read says so)."""
        with self.db.reading() as connection:
            connection.execute(text("SELECT 1 FROM articles LIMIT 1"))
        return []

    @operation("reaching the archive")
    def answers(self) -> None:
        """Through the engine's pool: the five readers may all be held by long searches."""
        with self.db.reading() as connection:
            connection.execute(text("SELECT 1 FROM articles LIMIT 1"))

    @operation("reading when the last poll ended")
    def last_poll_end(self) -> datetime | None:
        with self.db.reading() as connection:
            return connection.execute(select(func.max(source_rows.c.last_fetch))).scalar_one()  # type: ignore[no-any-return]

    def still_open(self) -> None:
        """A server's database: nothing of this process's to lose track of."""

    # articles ----------------------------------------------------------------------------

    @operation("looking up a feed's entries")
    def known_entries(
        self, source: str, ids: Sequence[str], guids: Sequence[str], contents: Sequence[str] = ()
    ) -> KnownEntries:
        """See SqlArchive.known_entries."""
        with self.db.read_cursor() as cursor:
            stored = cursor.execute(_KNOWN_IDS, (list(ids),)).fetchall() if ids else []
            seen = cursor.execute(_KNOWN_GUIDS, (source, list(guids))).fetchall() if guids else []
            same = cursor.execute(_KNOWN_CONTENTS, (source, list(contents))).fetchall() if contents else []
        published: dict[str, list[tuple[datetime, datetime, str]]] = {}
        for content, stored_at, fetched, url in same:
            published.setdefault(content, []).append(
                (stored_at.replace(tzinfo=UTC), fetched.replace(tzinfo=UTC), url)
            )
        return KnownEntries(
            {id_: hash_ or "" for id_, hash_ in stored}, {guid for (guid,) in seen}, published
        )

    @operation("reading a source's recent articles")
    def recent_texts(self, source: str, limit: int) -> list[tuple[str, str]]:
        with self.db.read_cursor() as cursor:
            rows = cursor.execute(_RECENT, (source, limit)).fetchall()
        return [(title, body or teaser) for title, body, teaser in rows]

    @operation("storing articles")
    def store_new(self, new_articles: Sequence[Article], outbox: Sequence[OutboxRow]) -> set[str]:
        """See SqlArchive.store_new. An article another daemon stored first is left to it."""
        with self.db.storing() as cursor:
            alone = take_turns(cursor, new_articles)
            fresh = unstored(cursor, new_articles) if new_articles else []
            batch, bands_of = assign_stories(PostgresBands(cursor), fresh, self.stories)
            if batch and not alone:
                take_story_turns(cursor, (article.story for article in batch))
            stored = {
                article.id: article for article in insert_articles(cursor, batch, band_rows(batch, bands_of))
            }
            insert_alerts(cursor, rows_of_stored(outbox, stored))
        return set(stored)

    @operation("updating an article")
    def update(self, article: Article, outbox: Sequence[OutboxRow]) -> bool:
        """See SqlArchive.update."""
        with self.db.storing() as cursor:
            updated = update_article(cursor, article)
            if updated is None:
                return False
            story, new_rules = updated
            insert_alerts(cursor, rows_of_update(outbox, article, story, new_rules))
        return True

    @operation("recording a rule's hits")
    def add_hits(
        self, article_id: str, new_hits: Sequence[Hit], outbox: Sequence[OutboxRow], now: datetime
    ) -> None:
        """Record a rule's hits on an archived article, and its alerts, in one transaction."""
        with self.db.storing() as cursor:
            if (
                cursor.execute("SELECT 1 FROM articles WHERE id = %s FOR UPDATE", (article_id,)).fetchone()
                is None
            ):
                return
            rules = sorted({hit.rule for hit in new_hits})
            cursor.execute("DELETE FROM hits WHERE article_id = %s AND rule = ANY(%s)", (article_id, rules))
            if new_hits:
                insert_hits(cursor, [(article_id, hit) for hit in new_hits])
                cursor.execute("UPDATE articles SET matched = 1 WHERE id = %s", (article_id,))
            insert_alerts(cursor, [(row, now) for row in outbox])

    @operation("reading an article")
    def article(self, article_id: str) -> ArchivedArticle | None:
        return self.articles([article_id]).get(article_id)

    @operation("reading articles")
    def articles(self, article_ids: Sequence[str]) -> dict[str, ArchivedArticle]:
        with self.db.read_cursor() as cursor:
            found = archived(cursor, article_rows(cursor, article_ids))
        return {item.article.id: item for item in found}

    @operation("searching the archive")
    def respell_rules(self, configured: Sequence[str]) -> dict[str, str]:
        return respell_rules(self.db, configured)

    def _spelled(self, rules: Sequence[str]) -> tuple[str, ...]:
        """The rules' names and the other spellings their hits are stored under."""
        return tuple(self.spellings.standing_for(rules))

    def rule_arrivals(self, rule: str | None, limit: int) -> list[ArchivedArticle]:
        with self.db.read_cursor(None) as cursor:
            return rule_arrivals(cursor, self._spelled((rule,)) if rule is not None else None, limit)

    def search(
        self,
        query: Node | None,
        filters: SearchFilters,
        time_limit: float | None = None,
        work_limit: float | None = None,
    ) -> list[ArchivedArticle]:
        """Newest first: candidates from the full-text index, each verified by the matcher
        unless the index's answer is exact (see pg_text.index_ask)."""
        query, filters = language_asked_of_the_matcher(query, filters)
        if filters.rules:
            filters = replace(filters, rules=self._spelled(filters.rules))
        # Limited in work (the read side's trial), the search's work is checked between the
        # statements reading candidates, and the server stops any statement after
        # STATEMENT_IN_WORK_LIMIT.
        statement_limit = time_limit
        if work_limit is not None:
            statement_limit = min(time_limit or math.inf, max(work_limit, STATEMENT_IN_WORK_LIMIT))
        with self.db.read_cursor(statement_limit) as cursor:
            # From when a reader is had: a quick search queued behind slow ones is not too slow.
            deadline = Deadline(time_limit, work_limit)
            with postgres_time_limit(deadline):
                return self._search(cursor, query, filters, deadline)

    def _search(
        self, cursor: Cursor, query: Node | None, filters: SearchFilters, deadline: Deadline
    ) -> list[ArchivedArticle]:
        if query is None:
            return archived(cursor, newest_of_all(cursor, None, filters, None, deadline))
        ask, evaluator = index_ask(query), compile_node(query)
        if ask.asked is None:  # nothing to ask the index: every article is a candidate
            return archived(cursor, newest_of_all(cursor, ask, filters, evaluator, deadline))
        statistics = self._index_statistics(cursor)
        rows = newest_matches(cursor, ask.asked, ask, filters, evaluator, statistics, deadline)
        return archived(cursor, rows)

    def _index_statistics(self, cursor: Cursor) -> IndexStatistics:
        """index_statistics, read again once a minute (threads may both read them: no harm)."""
        if time.monotonic() - self._statistics[1] >= STATISTICS_KEPT:
            self._statistics = (index_statistics(cursor), time.monotonic())
        return self._statistics[0]

    @operation("purging old articles")
    def purge(self, now: datetime, unmatched_age: timedelta | None, matched_age: timedelta | None) -> int:
        """Delete articles past their retention, with their hits, band keys and alerts (the
        foreign keys cascade), and the band keys of articles too old to be copied again."""
        removed = 0
        with self.db.storing() as cursor:
            cursor.execute(
                "DELETE FROM story_bands WHERE fetched < %s", (naive_utc(now - self.stories.window),)
            )
            for matched, age in ((0, unmatched_age), (1, matched_age)):
                if age is not None:
                    removed += cursor.execute(_PURGE, (matched, naive_utc(now - age))).rowcount
        return removed
