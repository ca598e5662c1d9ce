"""Articles' languages in the form lang: and --lang read: tags stored before the monitor read
three-letter codes, languages' names, withdrawn codes and subtags' case (`eng`, `English`,
`iw`, `en-us`) are brought to the code (`en`, `he`, `en-US`), so that the language filters find
them; where a tag says no language (`und`, or `utf` of lang="utf-8" read in part) the text's
language is told, as a poll now does. A few distinct values: one update each.

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
        if (code := macrolanguage(tag)) is None:
            _told_again(connection, tag)
        elif code != tag:
            connection.execute(retag, {"code": code, "tag": tag})


def _told_again(connection: sa.Connection, tag: str) -> None:
    """The language of each article tagged with no language, told from its text."""
    from monitor.ingest.parse.language import detect_language  # its model: only when needed

    rows = connection.execute(
        sa.text("SELECT id, title, teaser, text FROM articles WHERE language = :tag"), {"tag": tag}
    )
    told = [
        {"id": key, "code": detect_language(f"{title}\n{teaser}\n{text}")}
        for key, title, teaser, text in rows
    ]
    if told:
        connection.execute(sa.text("UPDATE articles SET language = :code WHERE id = :id"), told)


def downgrade() -> None:
    pass  # the tags as they were are not kept: the codes serve an older monitor as well
