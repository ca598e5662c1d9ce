"""Arabic script indexed as the matcher now reads it: characters writers use for one another
read as one (rules/text.ARABIC_READ_AS_ONE: ة and ۀ as ه, ی as ي, ک as ك, Arabic-Indic and
Persian digits as digits, the tatweel left out), so that searches find in the archive what rules
find in new articles. Only the articles holding one of them (or a presentation form of one) are
indexed again, from their stored text as a poll indexes it; the others' index is unchanged.

Revision ID: r18_arabic_letters
Revises: r17_language_tags
"""

from __future__ import annotations

from monitor.archive.revisions.reindexing import index_again_articles_holding
from monitor.rules.text import ARABIC_READ_AS_ONE

revision = "r18_arabic_letters"
down_revision = "r17_language_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_again_articles_holding("".join(map(chr, ARABIC_READ_AS_ONE)))


def downgrade() -> None:
    pass  # an older monitor reads the letters apart: its searches miss what they missed before
