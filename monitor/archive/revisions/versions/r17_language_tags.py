"""Articles' languages in the form lang: and --lang read: tags stored before the monitor read
three-letter codes, languages' names and withdrawn codes (`eng`, `English`, `iw`) are brought
to the code (`en`, `he`), or to none where they say there is no language (`und`), so that the
language filters find them. A few distinct values: one update each. (What looks like a code
stays: `utf`, read of lang="utf-8" before the whole value was, cannot be told from a rare one.)

Revision ID: r17_language_tags
Revises: r16_host_turns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.language_codes import macrolanguage

revision = "r17_language_tags"
down_revision = "r16_host_turns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    stored = connection.execute(
        sa.text("SELECT DISTINCT language FROM articles WHERE language IS NOT NULL")
    ).scalars()
    retag = sa.text("UPDATE articles SET language = :code WHERE language = :tag")
    for tag in list(stored):
        if (code := macrolanguage(tag)) != tag:
            connection.execute(retag, {"code": code, "tag": tag})


def downgrade() -> None:
    pass  # the tags as they were are not kept: the codes serve an older monitor as well
