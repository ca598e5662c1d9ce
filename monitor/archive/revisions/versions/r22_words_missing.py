"""Words too long for PostgreSQL's index said missing in older articles: those holding a word
over 2,047 bytes, stored before their gaps said the index lacks words, now say so, so that a
prefix of that word, asked or refused, is verified in them rather than answered by the index.

Revision ID: r22_words_missing
Revises: r21_alerts_newest
"""

from __future__ import annotations

from monitor.archive.revisions import on_postgresql
from monitor.archive.revisions.reindexing import flag_articles_missing_words

revision = "r22_words_missing"
down_revision = "r21_alerts_newest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if on_postgresql():
        flag_articles_missing_words()


def downgrade() -> None:
    pass  # the gaps said are true at the older revision too
