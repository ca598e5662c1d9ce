"""The full-text index of PostgreSQL archives: a tsvector of the matcher's tokens on each article
(pg_text.py writes it), a GIN index over it, and an index in search order (newest published
first, then newest stored).

Revision ID: r14_search
Revises: r13_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from monitor.archive.revisions import on_postgresql

revision = "r14_search"
down_revision = "r13_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not on_postgresql():
        return
    op.add_column("articles", sa.Column("search", TSVECTOR(), nullable=False, server_default=""))
    op.create_index("articles_search", "articles", ["search"], postgresql_using="gin")
    op.create_index("articles_published_seq", "articles", ["published", "seq"])


def downgrade() -> None:
    if not on_postgresql():
        return
    op.drop_index("articles_published_seq", "articles")
    op.drop_index("articles_search", "articles")
    op.drop_column("articles", "search")
