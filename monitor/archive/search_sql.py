"""Search reads through the sqlite3 driver itself: the archive's hottest path.

SQLAlchemy's work per statement and per row (compiled-cache lookups, result processing, a type
conversion per value) cost twice what FTS5 spends finding and reading fifty articles. So the
search statements are SQL text over the columns of tables.py, run on the driver connection of
the transaction the archive opened, and rows are read by position. Datetimes are compared as
stored (SQLAlchemy's SQLite text, which sorts in time order) and converted only for results.
"""

from __future__ import annotations

import heapq
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from monitor.archive import SearchFilters
from monitor.archive.bulk import IN_JSON, json_list
from monitor.archive.rows import slot_builder
from monitor.archive.tables import MARK_BLOCK, articles, stored_datetime
from monitor.archive.time_limits import Deadline
from monitor.models import ArchivedArticle, Article, Hit
from monitor.near_duplicates import unpack
from monitor.rules import MatchInput
from monitor.rules.match import Evaluator, run

ArticleRow = tuple[Any, ...]  # the columns of `articles`, in order
LAST_SEQ = 2**63 - 1
FIRST_CHUNK, LARGEST_CHUNK, MOST_STRAGGLERS = 64, 4096, 512
_NAMES = [column.name for column in articles.c]
_SEQ, _ID, _SOURCE, _TITLE, _TEASER = (
    _NAMES.index(name) for name in ("seq", "id", "source", "title", "teaser")
)
_TEXT, _PUBLISHED, _LANGUAGE, _STORY, _MATCHED, _SHARED = (
    _NAMES.index(name) for name in ("text", "published", "language", "story", "matched", "shared")
)
Key = tuple[str, int]  # (published as stored, seq): the search order, newest first

_ROW = ", ".join(f'articles."{name}"' for name in _NAMES)
_FROM_INDEX = (
    "FROM articles_fts JOIN articles ON articles.seq = articles_fts.rowid WHERE articles_fts MATCH ?"
)
# Stragglers: articles stored before `below` yet published no earlier than the oldest kept. Read
# unfiltered, so that the publication index is the one read.
_STRAGGLERS = (
    f"SELECT published, seq FROM articles WHERE published >= ? AND seq < ? LIMIT {MOST_STRAGGLERS + 1}"
)
_LATEST_BEFORE = (
    "SELECT max(coalesce((SELECT latest FROM publication_marks WHERE block < ? "
    "ORDER BY block DESC LIMIT 1), ''), "
    "coalesce((SELECT max(published) FROM articles WHERE seq >= ? AND seq < ?), ''))"
)
_new_article, _new_archived = slot_builder(Article), slot_builder(ArchivedArticle)
_HITS = (
    'SELECT article_id, rule, term, field, start, "end", snippet FROM hits '
    f"WHERE article_id IN {IN_JSON} ORDER BY id"
)
_COPIES = f"SELECT story, id, source, url FROM articles WHERE story IN {IN_JSON} ORDER BY fetched"


_RULE_HITS = "SELECT id, article_id FROM hits WHERE rule = ? AND id < ? ORDER BY id DESC LIMIT ?"
_ANY_HITS = "SELECT id, article_id FROM hits WHERE id < ? ORDER BY id DESC LIMIT ?"
_ROWS_OF = f"SELECT {_ROW} FROM articles WHERE id IN {IN_JSON}"
HITS_AT_ONCE = 512


def latest_matched(hits_below: Callable[[int], Sequence[tuple[int, str]]], limit: int) -> list[str]:
    """The ids of up to `limit` articles, the latest matched first, from the rule's hits read
    newest first a chunk at a time (`hits_below(id)`: (id, article_id) below that id, at most
    HITS_AT_ONCE): an article has a hit for each term and field it matched in."""
    wanted: dict[str, None] = {}
    below = LAST_SEQ
    while len(wanted) < limit:
        chunk = hits_below(below)
        for _, article_id in chunk:
            wanted.setdefault(article_id)
        if len(chunk) < HITS_AT_ONCE:
            break
        below = chunk[-1][0]
    return list(wanted)[:limit]


def newest_hits(chunks: Iterable[Sequence[tuple[int, str]]]) -> list[tuple[int, str]]:
    """The newest HITS_AT_ONCE hits of the chunks (each the newest of a spelling of the rule's
    name, RuleSpellings): newest first across them."""
    return sorted((hit for chunk in chunks for hit in chunk), reverse=True)[:HITS_AT_ONCE]


def rule_arrivals(cursor: sqlite3.Cursor, rules: Sequence[str] | None, limit: int) -> list[ArchivedArticle]:
    """Archive.rule_arrivals on SQLite, of the rule's names (its spellings; None: any rule's):
    the index of hits by name read backwards (id is the rowid, which its entries are ordered
    by); any rule's, the table itself."""

    def hits_below(below: int) -> list[tuple[int, str]]:
        if rules is None:
            return cursor.execute(_ANY_HITS, (below, HITS_AT_ONCE)).fetchall()
        return newest_hits(
            cursor.execute(_RULE_HITS, (rule, below, HITS_AT_ONCE)).fetchall() for rule in rules
        )

    ids = latest_matched(hits_below, limit)
    rows = {row[_ID]: row for row in cursor.execute(_ROWS_OF, (json_list(ids),))} if ids else {}
    return archived(cursor, [rows[id_] for id_ in ids if id_ in rows])


def stored_moment(stored: str) -> datetime:
    """A datetime as SQLite holds it (tables.stored_datetime), in UTC."""
    return datetime.fromisoformat(stored + "+00:00")


def like_prefix(text: str) -> str:
    """A LIKE pattern for a language tag and its subtags (`en` -> `en-%`), wildcards escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"


def filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """`AND ...` conditions on `articles` for the search filters (all but the query and the
    limit), with their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.since:
        clauses.append("articles.published >= ?")
        params.append(stored_datetime(filters.since))
    if filters.until:
        clauses.append("articles.published <= ?")
        params.append(stored_datetime(filters.until))
    if filters.fetched_since:
        clauses.append("articles.fetched >= ?")
        params.append(stored_datetime(filters.fetched_since))
    if filters.sources:
        clauses.append(f"articles.source IN {IN_JSON}")
        params.append(json_list(filters.sources))
    if filters.language:
        language = filters.language.lower()
        clauses.append("(lower(articles.language) = ? OR lower(articles.language) LIKE ? ESCAPE '\\')")
        params += [language, like_prefix(language)]
    if filters.after:
        # An article purged since the page was read: all of its second, some perhaps again.
        clauses.append(
            "(articles.published, articles.seq) < (?, coalesce((SELECT seq FROM articles AS shown "
            f"WHERE shown.id = ?), {LAST_SEQ}))"
        )
        params += [stored_datetime(filters.after[0]), filters.after[1]]
    if filters.matched:
        clauses.append("articles.matched = 1")
    if filters.rules:
        clauses.append(
            f"EXISTS (SELECT 1 FROM hits WHERE hits.article_id = articles.id AND hits.rule IN {IN_JSON})"
        )
        params.append(json_list(filters.rules))
    return "".join(f" AND {clause}" for clause in clauses), params


def newest_matches(
    cursor: sqlite3.Cursor,
    index_query: str,
    filters: SearchFilters,
    accept: Callable[[ArticleRow], bool] | None,
    deadline: Deadline,
) -> list[ArticleRow]:
    """The newest articles (by publication) that the index matches, pass the filters and are
    accepted (verified by the matcher; None: all are), at most `filters.limit`, newest first.

    The index gives its matches in storing order, newest stored first and cheaply however many
    there are. Publication order mostly follows storing order, so the matches are read in
    chunks, newest stored first, until the publication marks show that nothing stored earlier
    is newer than the oldest kept, or those that may be (stragglers: few) can be checked one by
    one. A common word costs one chunk, not a pass over its million matches; an article with a
    wrong date costs a lookup. SearchTooSlow when a chunk is due after the deadline.
    """
    if filters.limit <= 0:
        return []
    conditions, params = filter_sql(filters)
    chunk = (
        f"SELECT {_ROW} {_FROM_INDEX} AND articles_fts.rowid < ?{conditions} "
        "ORDER BY articles_fts.rowid DESC LIMIT ?"
    )
    kept: list[tuple[Key, ArticleRow]] = []  # a min-heap of the newest found
    # Exact answers need no more rows than the limit; verified ones, some to spare.
    below, count = sys.maxsize, filters.limit if accept is None else max(FIRST_CHUNK, filters.limit)
    while True:
        # The progress handler (time_limits.py) may not stop a chunk before its first step, in
        # which the index gathers a prefix's matches: about a second for `k*` at a million.
        deadline.check()
        rows = cursor.execute(chunk, [index_query, below, *params, count]).fetchall()
        _keep(kept, rows, filters.limit, accept)
        if len(rows) < count:
            break  # the index has no more
        below, count = rows[-1][_SEQ], min(count * 2, LARGEST_CHUNK)
        if len(kept) >= filters.limit:
            oldest = kept[0][0]
            if not _may_straggle(cursor, below, oldest[0]):
                break
            stragglers = cursor.execute(_STRAGGLERS, (oldest[0], below)).fetchall()
            if len(stragglers) <= MOST_STRAGGLERS:  # else reading the index on is cheaper
                newer = [seq for published, seq in stragglers if (published, seq) > oldest]
                if newer:
                    statement = f"SELECT {_ROW} {_FROM_INDEX}{conditions} AND articles.seq IN {IN_JSON}"
                    late = cursor.execute(statement, [index_query, *params, json_list(newer)]).fetchall()
                    _keep(kept, late, filters.limit, accept)
                break
    return [row for _, row in sorted(kept, key=itemgetter(0), reverse=True)]


def _may_straggle(cursor: sqlite3.Cursor, below: int, published: str) -> bool:
    """Whether an article stored before `below` may be published at `published` or later: the
    mark of the last block before the one of `below` bounds the articles stored up to its end,
    and those of the block itself stored before `below` are read."""
    block_start = below - below % MARK_BLOCK
    (latest,) = cursor.execute(_LATEST_BEFORE, (below // MARK_BLOCK, block_start, below)).fetchone()
    return bool(latest >= published)


def _keep(
    kept: list[tuple[Key, ArticleRow]],
    rows: Iterable[ArticleRow],
    limit: int,
    accept: Callable[[ArticleRow], bool] | None,
) -> None:
    """Add to the heap the rows newer than its oldest (those accepted)."""
    if accept is None:
        # Nothing to verify: one sort merges them (a list in ascending order is a heap). The
        # rows come nearly in order, which the sort finds in one pass, far cheaper than
        # pushing them one by one.
        merged = kept + [((row[_PUBLISHED], row[_SEQ]), row) for row in rows]
        merged.sort(key=itemgetter(0))
        kept[:] = merged[-limit:]
        return
    for row in rows:
        key = (row[_PUBLISHED], row[_SEQ])
        if len(kept) >= limit and key <= kept[0][0]:
            continue
        if accept is not None and not accept(row):
            continue
        if len(kept) < limit:
            heapq.heappush(kept, (key, row))
        else:
            heapq.heapreplace(kept, (key, row))


def newest_of_all(
    cursor: sqlite3.Cursor, filters: SearchFilters, refused: str | None = None
) -> Iterator[ArticleRow]:
    """Every article that passes the filters, and that the index does not match to the FTS5
    expression `refused`, newest first, read as it is consumed."""
    conditions, params = filter_sql(filters)
    if refused is not None:
        # A word is looked up for each article read, a prefix's matches gathered once: gathering
        # `budget`'s matches at a million took 30 ms and some 15 MB a search (a lookup each of
        # the 50 read, 5 ms); looking a prefix up for each re-gathers it each time (20 s).
        conditions += (
            " AND articles.seq NOT IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
            if '"*' in refused
            else " AND NOT EXISTS (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? "
            "AND articles_fts.rowid = articles.seq)"
        )
        params.append(refused)
    return cursor.execute(
        f"SELECT {_ROW} FROM articles WHERE 1{conditions} "
        "ORDER BY articles.published DESC, articles.seq DESC",
        params,
    )


def article_rows(cursor: sqlite3.Cursor, article_ids: Sequence[str]) -> list[ArticleRow]:
    statement = f"SELECT {_ROW} FROM articles WHERE id IN {IN_JSON}"
    return cursor.execute(statement, (json_list(article_ids),)).fetchall()


def first_accepted(rows: Iterable[ArticleRow], query: Evaluator | None, limit: int) -> list[ArticleRow]:
    """The first `limit` rows the query matches (all pass without one), read as needed."""
    found: list[ArticleRow] = []
    if limit > 0:
        for row in rows:
            if query is None or verifies(query, row):
                found.append(row)
                if len(found) >= limit:
                    break
    return found


def verifies(query: Evaluator, row: ArticleRow) -> bool:
    document = MatchInput(row[_TITLE], row[_TEASER], row[_TEXT], row[_SOURCE], row[_LANGUAGE])
    return run(query, document) is not None


def archived(cursor: sqlite3.Cursor, rows: Sequence[ArticleRow]) -> list[ArchivedArticle]:
    """Rows of articles as archived articles, with their hits and copies."""
    return archived_rows(
        rows,
        lambda ids: cursor.execute(_HITS, (json_list(ids),)),
        lambda stories: cursor.execute(_COPIES, (json_list(stories),)),
        stored_moment,
    )


def archived_rows(
    rows: Sequence[ArticleRow],
    hits_of: Callable[[list[str]], Iterable[Sequence[Any]]],
    copies_of: Callable[[list[str]], Iterable[Sequence[Any]]],
    when: Callable[[Any], datetime],
) -> list[ArchivedArticle]:
    """Rows of articles as archived articles, with their hits (`hits_of` article ids: rows of
    article id and the Hit's fields, in order) and copies (`copies_of` stories: rows of story,
    id, source, url, in fetch order), each read only for the rows that have some; `when` reads
    a stored datetime."""
    by_article: dict[str, list[Hit]] = {}
    matched = [row[_ID] for row in rows if row[_MATCHED]]  # unmatched: no hits
    for article_id, *hit in hits_of(matched) if matched else ():
        by_article.setdefault(article_id, []).append(Hit(*hit))
    copies: dict[str, list[tuple[str, str, str]]] = {}
    shared = list(dict.fromkeys(row[_STORY] for row in rows if row[_SHARED]))
    for story, id_, source, url in copies_of(shared) if shared else ():
        copies.setdefault(story, []).append((id_, source, url))
    found = []
    for row in rows:
        article = _article(row, by_article.get(row[_ID], ()), when)
        story = copies.get(article.story)
        others = tuple((source, url) for id_, source, url in story if id_ != article.id) if story else ()
        found.append(_new_archived(article, others))
    return found


def _article(row: ArticleRow, article_hits: Iterable[Hit], when: Callable[[Any], datetime]) -> Article:
    (
        _seq, id_, url, guid, source, title, teaser, text, summary, published, fetched, language,
        story, _matched, fingerprint, content_hash, _shared, revised,
    ) = row  # fmt: skip
    return _new_article(
        id_, url, guid, source, title, teaser, text, summary, when(published),
        when(fetched), language, story, tuple(article_hits),
        unpack(fingerprint) if fingerprint else None, content_hash or "",
        when(revised) if revised else None, None,
    )  # fmt: skip
