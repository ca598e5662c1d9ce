"""SQLAlchemy Core tables of the archive, on SQLite and PostgreSQL alike. "Schema version n"
marks what SQLite's upgrades before Alembic added (migrations/); later changes are revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

_UTC_EPOCH, _NAIVE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend stores."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the archive")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # Arithmetic from the epoch: the same instant as value.replace(tzinfo=UTC), without
        # replace()'s keyword handling, which is slow (a search reads two per article).
        return _UTC_EPOCH + (value - _NAIVE_EPOCH)  # type: ignore[no-any-return]


def stored_datetime(value: datetime) -> str:
    """A datetime as the archive stores it (UtcDateTime through SQLAlchemy's SQLite
    DATETIME): UTC, microseconds always written, so that text order is time order."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the archive")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("name", String, primary_key=True),
    Column("url", Text, nullable=False),
    Column("next_due", UtcDateTime, nullable=True, index=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_fetch", UtcDateTime),
    Column("last_status", Text),
    Column("last_error", Text),
    Column("consecutive_errors", Integer, nullable=False, default=0),
    Column("failing_since", UtcDateTime),
    Column("moved_to", Text),  # schema version 2
    Column("body_hash", String),  # schema version 2
    Column("last_full_fetch", UtcDateTime),  # schema version 2
    Column("interval_seconds", Float),  # schema version 3: the adaptive interval now in force
    Column("claimed_at", UtcDateTime),  # schema version 4: a poll in progress since then
    Column("entry_digests", LargeBinary),  # schema version 6: of the items at the last read
    Column("boilerplate", LargeBinary),  # schema version 12: shingles repeated across its items
)

articles = Table(
    "articles",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False, unique=True),
    Column("url", Text, nullable=False, unique=True),
    Column("guid", Text, nullable=False),
    Column("source", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("teaser", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("published", UtcDateTime, nullable=False),
    Column("fetched", UtcDateTime, nullable=False),
    Column("language", String),
    Column("story", String, nullable=False),
    Column("matched", Integer, nullable=False, default=0),
    Column("fingerprint", LargeBinary),  # schema version 5
    Column("content_hash", String),  # schema version 5
    # 1 once another article joined the article's story (purge leaves it set): search then reads
    # the story's copies, and only then. Schema version 9.
    Column("shared", Integer, nullable=False, server_default="0"),
    # When a new version of the article (its feed entry changed) replaced the stored one; null:
    # never. Feeds of matches give it as the entry's `updated`. Revision r20.
    Column("revised", UtcDateTime),
    Index("articles_published", "published"),
    Index("articles_source_guid", "source", "guid"),
    Index("articles_source_content", "source", "content_hash"),  # schema version 11
    Index("articles_story", "story"),
    Index("articles_source_seq", "source", "seq"),  # schema version 13
)

# Locality-sensitive band keys of recent articles' fingerprints: copies of a story share one.
story_bands = Table(
    "story_bands",
    metadata,
    Column("band", BigInteger, nullable=False),
    Column("article_id", String, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("fetched", UtcDateTime, nullable=False),
    Index("story_bands_band", "band"),
    Index("story_bands_article", "article_id"),
)

# How late in publication the articles stored so far reach: per block of MARK_BLOCK seqs, the
# newest publication of any article stored up to the block's end (a running maximum: never lower
# for a later block). Search asks it whether an article stored before a point may be newer than
# those it found (search_sql: stragglers). A row per 16 articles: the few after the last whole
# block are read themselves. Schema version 8.
MARK_BLOCK = 16
publication_marks = Table(
    "publication_marks",
    metadata,
    Column("block", Integer, primary_key=True, autoincrement=False),
    Column("latest", UtcDateTime, nullable=False),
)

hits = Table(
    "hits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("rule", String, nullable=False),
    Column("term", Text, nullable=False),
    Column("field", String, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("snippet", Text, nullable=False),
    Index("hits_article", "article_id"),
    Index("hits_rule", "rule"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String, primary_key=True),
    Column("alert", String, nullable=False),
    Column("channel", Text, nullable=False),
    Column("story", String, nullable=False),
    Column("article_id", String, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("rules", Text, nullable=False),
    Column("state", String, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created", UtcDateTime, nullable=False),
    Column("next_attempt", UtcDateTime),
    Column("last_error", Text),
    Column("sent", UtcDateTime),
    Column("claimed_until", UtcDateTime),  # schema version 10: being sent by a dispatcher until then
    Column("claimed_by", String),  # schema version 10: which kind of process claimed it (daemon, once)
    UniqueConstraint("alert", "channel", "story", name="alerts_one_per_story"),
    Index("alerts_due", "state", "next_attempt"),
    Index("alerts_newest", "created", "id"),  # the history's order (revision r21)
)
