"""The schema as SQLite's version 13 has it: sources with their schedule and claims, articles,
story band keys, publication marks, hits, and the alert outbox; on SQLite, the full-text index
too (PostgreSQL's is r14's). SQLite archives made before Alembic are brought to version 13 by
migrations/ and stamped with this revision.

Revision ID: r13_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r13_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("next_due", sa.DateTime(), nullable=True),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("last_fetch", sa.DateTime()),
        sa.Column("last_status", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime()),
        sa.Column("moved_to", sa.Text()),
        sa.Column("body_hash", sa.String()),
        sa.Column("last_full_fetch", sa.DateTime()),
        sa.Column("interval_seconds", sa.Float()),
        sa.Column("claimed_at", sa.DateTime()),
        sa.Column("entry_digests", sa.LargeBinary()),
        sa.Column("boilerplate", sa.LargeBinary()),
    )
    op.create_index("ix_sources_next_due", "sources", ["next_due"])
    op.create_table(
        "articles",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(), nullable=False, unique=True),
        sa.Column("url", sa.Text(), nullable=False, unique=True),
        sa.Column("guid", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("teaser", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.Column("fetched", sa.DateTime(), nullable=False),
        sa.Column("language", sa.String()),
        sa.Column("story", sa.String(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary()),
        sa.Column("content_hash", sa.String()),
        sa.Column("shared", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("articles_published", "articles", ["published"])
    op.create_index("articles_source_guid", "articles", ["source", "guid"])
    op.create_index("articles_source_content", "articles", ["source", "content_hash"])
    op.create_index("articles_story", "articles", ["story"])
    op.create_index("articles_source_seq", "articles", ["source", "seq"])
    op.create_table(
        "story_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column(
            "article_id", sa.String(), sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("fetched", sa.DateTime(), nullable=False),
    )
    op.create_index("story_bands_band", "story_bands", ["band"])
    op.create_index("story_bands_article", "story_bands", ["article_id"])
    op.create_table(
        "publication_marks",
        sa.Column("block", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("latest", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "hits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "article_id", sa.String(), sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
    )
    op.create_index("hits_article", "hits", ["article_id"])
    op.create_index("hits_rule", "hits", ["rule"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("alert", sa.String(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("story", sa.String(), nullable=False),
        sa.Column(
            "article_id", sa.String(), sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("next_attempt", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("sent", sa.DateTime()),
        sa.Column("claimed_until", sa.DateTime()),
        sa.Column("claimed_by", sa.String()),
        sa.UniqueConstraint("alert", "channel", "story", name="alerts_one_per_story"),
    )
    op.create_index("alerts_due", "alerts", ["state", "next_attempt"])
    if op.get_context().dialect.name == "sqlite":
        # The matcher's tokens joined by spaces (rules/text.index_fields); the ascii tokenizer
        # splits at the spaces and nowhere else (unicode61 would also split at combining marks).
        op.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, tokenize = 'ascii')")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TABLE articles_fts")
    for table in ("alerts", "hits", "publication_marks", "story_bands", "articles", "sources"):
        op.drop_table(table)
