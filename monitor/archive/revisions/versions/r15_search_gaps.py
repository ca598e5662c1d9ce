"""What each article's full-text index lacks (`search_gaps`, pg_text.py: a very long text loses
positions, past 1 MB words), and an index of the articles with gaps in search order, which
search reads apart. The tsvector stays in the article's row: search tests it row after row, and
a tsvector moved out to the TOAST table cost an index lookup and a page each time (a rare phrase
took 2.1 ms where it now takes 0.3 ms, at 100,000 articles); the text goes out first instead.

Revision ID: r15_search_gaps
Revises: r14_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.archive.revisions import on_postgresql

revision = "r15_search_gaps"
down_revision = "r14_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not on_postgresql():
        return
    op.add_column("articles", sa.Column("search_gaps", sa.SmallInteger(), nullable=False, server_default="0"))
    op.execute("ALTER TABLE articles ALTER COLUMN search SET STORAGE MAIN")
    op.execute("ALTER TABLE articles SET (toast_tuple_target = 8160)")
    op.create_index(
        "articles_with_gaps", "articles", ["published", "seq"], postgresql_where=sa.text("search_gaps > 0")
    )
    # Articles stored by r14 carried marker lexemes instead: one for missing positions, one for
    # missing words (private-use characters, of which no token of the matcher's is made).
    op.get_bind().execute(
        sa.text(
            "UPDATE articles SET search = ts_delete(search, ARRAY[:lossy, :partial]), "
            "search_gaps = CASE WHEN search @@ CAST(:words AS tsquery) THEN 2 ELSE 1 END "
            "WHERE search @@ CAST(:either AS tsquery)"
        ),
        {"words": "'\ue002'", "either": "'\ue001' | '\ue002'", "lossy": "\ue001", "partial": "\ue002"},
    )


def downgrade() -> None:
    if not on_postgresql():
        return
    op.execute("ALTER TABLE articles RESET (toast_tuple_target)")
    op.execute("ALTER TABLE articles ALTER COLUMN search SET STORAGE EXTENDED")
    op.drop_index("articles_with_gaps", "articles")
    op.drop_column("articles", "search_gaps")
