"""SqlArchive: the archive on SQLAlchemy Core (SQLite with WAL and FTS5; engine.py says how).

Sources and articles here; the alert outbox in outbox_sql.py, the database's connections and
transactions in connections.py, each composed into SqlArchive. The two hot paths go through the
sqlite3 driver itself: search's reads (search_sql.py) and the stores of articles (writes.py,
stories.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, delete, func, select, text

from monitor.archive import JobHold, KnownEntries, OutboxRow, SearchFilters
from monitor.archive.bulk import IN_JSON, json_list
from monitor.archive.connections import SqlConnections, operation
from monitor.archive.outbox_sql import SqlOutbox
from monitor.archive.rule_names import RuleSpellings, respell_rules
from monitor.archive.search import fts_query, fts_refusal, index_exact, language_asked_of_the_matcher
from monitor.archive.search_sql import (
    archived,
    article_rows,
    first_accepted,
    newest_matches,
    newest_of_all,
    rule_arrivals,
    stored_moment,
    verifies,
)
from monitor.archive.sources_sql import SourceSchedule, SqlSources
from monitor.archive.stats_sql import SqlStats
from monitor.archive.stories import SqliteBands, assign_stories, index_bands
from monitor.archive.tables import MARK_BLOCK, articles, publication_marks, story_bands
from monitor.archive.time_limits import Deadline, sqlite_time_limit
from monitor.archive.writes import (
    insert_alerts,
    insert_articles,
    insert_hits,
    rows_of_stored,
    rows_of_update,
    unstored,
    update_article,
)
from monitor.models import ArchivedArticle, Article, Hit
from monitor.near_duplicates import StoryGrouping
from monitor.rules import Node
from monitor.rules.match import compile_node

_KNOWN_IDS = f"SELECT id, content_hash FROM articles WHERE id IN {IN_JSON}"
_KNOWN_GUIDS = f"SELECT guid FROM articles WHERE source = ? AND guid IN {IN_JSON}"
_KNOWN_CONTENTS = (
    "SELECT content_hash, published, fetched, url FROM articles "
    f"WHERE source = ? AND content_hash IN {IN_JSON}"
)
_ARTICLE_STORED = "SELECT 1 FROM articles WHERE id = ?"
_DROP_RULES_HITS = f"DELETE FROM hits WHERE article_id = ? AND rule IN {IN_JSON}"
_MATCHED = "UPDATE articles SET matched = 1 WHERE id = ?"


class SqlArchive(SourceSchedule):
    """The Archive port on SQLAlchemy Core: sources and articles here, the alert outbox in
    `outbox`, both in one database (`db`), so that an article and its alert rows are written
    in one transaction."""

    def __init__(self, url: str, stories: StoryGrouping | None = None) -> None:
        self.stories = stories or StoryGrouping()
        self.db = SqlConnections(url)
        self.outbox = SqlOutbox(self.db)
        self.sources = SqlSources(self.db)
        self.spellings = RuleSpellings(self.db)
        self.stats = SqlStats(self.db, self.spellings)

    shared = False  # one daemon per file (runtime/daemon_lock.py)
    host_turns = None

    def close(self) -> None:
        self.db.close()

    def hold_job(self, name: str) -> JobHold | None:
        return _SOLE_DAEMON

    @operation("checking the archive")
    def damage(self) -> list[str]:
        """What SQLite's quick_check finds wrong with the file (empty: nothing)."""
        with self.db.reading() as connection:
            found = [str(row[0]) for row in connection.execute(text("PRAGMA quick_check(20)"))]
        return [] if found == ["ok"] else found

    @operation("reaching the archive")
    def answers(self) -> None:
        self.db.still_open()
        self.db.undamaged()
        with self.db.read_cursor() as cursor:  # SQLite's readers are not limited in number
            cursor.execute("SELECT 1 FROM articles LIMIT 1").fetchone()

    @operation("reading when the last poll ended")
    def last_poll_end(self) -> datetime | None:
        with self.db.read_cursor() as cursor:
            [(stored,)] = cursor.execute("SELECT max(last_fetch) FROM sources").fetchall()
        return None if stored is None else stored_moment(stored)

    def still_open(self) -> None:
        self.db.still_open()

    # articles ----------------------------------------------------------------------------

    @operation("looking up a feed's entries")
    def known_entries(
        self, source: str, ids: Sequence[str], guids: Sequence[str], contents: Sequence[str] = ()
    ) -> KnownEntries:
        """Which of a feed's entries are archived: by article id (with the hash of the entry
        each came from), by this source's GUIDs (an entry whose link changed is not new) and by
        the hashes of this source's entries (nor is one whose link and GUID change on every
        fetch while its text stays). One read, as a poll asks all three of every feed it reads."""
        with self.db.read_cursor() as cursor:
            # Each read in full before the next: the cursor's execute drops the rows not yet read.
            stored = cursor.execute(_KNOWN_IDS, (json_list(list(ids)),)) if ids else ()
            hashes = {id_: hash_ or "" for id_, hash_ in stored}
            seen = cursor.execute(_KNOWN_GUIDS, (source, json_list(list(guids)))) if guids else ()
            guids_seen = {guid for (guid,) in seen}
            same = cursor.execute(_KNOWN_CONTENTS, (source, json_list(list(contents)))) if contents else ()
            by_content: dict[str, list[tuple[datetime, datetime, str]]] = {}
            for content, published, fetched, url in same:
                when, came = (
                    datetime.fromisoformat(each).replace(tzinfo=UTC) for each in (published, fetched)
                )
                by_content.setdefault(content, []).append((when, came, url))
            return KnownEntries(hashes, guids_seen, by_content)

    @operation("reading a source's recent articles")
    def recent_texts(self, source: str, limit: int) -> list[tuple[str, str]]:
        query = (
            select(articles.c.title, articles.c.text, articles.c.teaser)
            .where(articles.c.source == source)
            .order_by(articles.c.seq.desc())
            .limit(limit)
        )
        with self.db.reading() as connection:
            return [(row.title, row.text or row.teaser) for row in connection.execute(query)]

    @operation("storing articles")
    def store_new(self, new_articles: Sequence[Article], outbox: Sequence[OutboxRow]) -> set[str]:
        """Insert new articles with their hits, index rows and alerts, in one transaction; the
        ids of those it stored (see Archive.store_new).

        An article that is a near-duplicate of a recent one joins its story; its outbox rows
        then name that story, and a row for a story already alerted is not written again.
        """
        with self.db.storing() as cursor:
            batch, bands_of = assign_stories(
                SqliteBands(cursor), unstored(cursor, new_articles), self.stories
            )
            insert_articles(cursor, batch)
            index_bands(cursor, batch, bands_of)
            stored = {article.id: article for article in batch}
            insert_alerts(cursor, rows_of_stored(outbox, stored))
        return set(stored)

    @operation("updating an article")
    def update(self, article: Article, outbox: Sequence[OutboxRow]) -> bool:
        """Store a new version of an archived article (same URL, changed text). Its outbox rows
        are written only for rules it newly matches; one alert per story still holds."""
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
            if cursor.execute(_ARTICLE_STORED, (article_id,)).fetchone() is None:
                return
            rules = sorted({hit.rule for hit in new_hits})
            cursor.execute(_DROP_RULES_HITS, (article_id, json_list(rules)))
            if new_hits:
                insert_hits(cursor, [(article_id, hit) for hit in new_hits])
                cursor.execute(_MATCHED, (article_id,))
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
        with self.db.read_cursor() as cursor:
            return rule_arrivals(cursor, self._spelled((rule,)) if rule is not None else None, limit)

    def search(
        self,
        query: Node | None,
        filters: SearchFilters,
        time_limit: float | None = None,
        work_limit: float | None = None,
    ) -> list[ArchivedArticle]:
        """Newest first: candidates from the full-text index, each verified by the matcher
        unless the index's answer is exact (see search.index_exact)."""
        query, filters = language_asked_of_the_matcher(query, filters)
        if filters.rules:
            filters = replace(filters, rules=self._spelled(filters.rules))
        index_query = fts_query(query) if query is not None else None
        deadline = Deadline(time_limit, work_limit)
        with self.db.read_cursor() as cursor, sqlite_time_limit(cursor.connection, deadline):
            exact = query is not None and index_exact(query, refusals=True)
            if query is not None and index_query is not None:
                accept = None if exact else partial(verifies, compile_node(query))
                return archived(cursor, newest_matches(cursor, index_query, filters, accept, deadline))
            # Nothing to ask the index (`NOT sport`, `source:x`): every article is a candidate,
            # streamed newest first, less what an exact NOT refuses; verification stops at the limit.
            refused = fts_refusal(query) if query is not None else None
            evaluator = compile_node(query) if query is not None and not exact else None
            candidates = newest_of_all(cursor, filters, refused)
            return archived(cursor, first_accepted(candidates, evaluator, filters.limit))

    @operation("purging old articles")
    def purge(self, now: datetime, unmatched_age: timedelta | None, matched_age: timedelta | None) -> int:
        """Delete articles past their retention, with their hits, index rows and alerts, and the
        band keys of articles too old to be copied again."""
        removed = 0
        with self.db.writing() as connection:
            connection.execute(delete(story_bands).where(story_bands.c.fetched < now - self.stories.window))
            for matched, age in ((0, unmatched_age), (1, matched_age)):
                if age is None:
                    continue
                old = select(articles.c.seq).where(
                    articles.c.matched == matched, articles.c.fetched < now - age
                )
                seqs = [{"seq": seq} for seq in connection.execute(old).scalars()]
                if not seqs:
                    continue
                connection.execute(text("DELETE FROM articles_fts WHERE rowid = :seq"), seqs)
                connection.execute(delete(articles).where(articles.c.seq == bindparam("seq")), seqs)
                removed += len(seqs)
            # Marks of blocks before the oldest article left bound nothing any more.
            first_block = select(func.min(articles.c.seq)).scalar_subquery() // MARK_BLOCK
            connection.execute(delete(publication_marks).where(publication_marks.c.block < first_block))
        return removed


class _SoleDaemon:
    """The hold of a job on an archive only one daemon writes: nothing to release."""

    def release(self) -> None:
        pass


_SOLE_DAEMON = _SoleDaemon()
