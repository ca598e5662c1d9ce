"""Hong Kong's variants of Traditional characters indexed as the matcher now reads them
(OpenCC's hk2s: 衞 is 卫 as 衛 is, 枱 台, 衹 只, 粧 妆, 糭 粽, 敍 叙, 潀 潨), so that searches find in
the archive what rules find in new articles. Only the articles holding one of them are indexed
again, from their stored text as a poll indexes it.

Revision ID: r19_hong_kong_variants
Revises: r18_arabic_letters
"""

from __future__ import annotations

from monitor.archive.revisions.reindexing import index_again_articles_holding
from monitor.rules.text import HONG_KONG_VARIANTS

revision = "r19_hong_kong_variants"
down_revision = "r18_arabic_letters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_again_articles_holding(HONG_KONG_VARIANTS)


def downgrade() -> None:
    pass  # an older monitor reads these characters apart: its searches miss what they missed
