"""The full-text index of articles holding Arabic letters that writers use for one another,
as the matcher now reads them (rules/text.ARABIC_LETTERS_READ_AS_ONE: ة as ه, ى and ی as ي,
ک as ك, the tatweel left out), so that searches find in the archive what rules find in new
articles. Only those articles are indexed again, from their stored text as a poll indexes it;
the others' index is unchanged.

Revision ID: r18_arabic_letters
Revises: r17_language_tags
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.archive.pg_text import search_vector
from monitor.archive.revisions import on_postgresql
from monitor.rules.text import ARABIC_LETTERS_READ_AS_ONE, index_article

revision = "r18_arabic_letters"
down_revision = "r17_language_tags"
branch_labels = None
depends_on = None

_LETTERS = "".join(chr(code) for code in ARABIC_LETTERS_READ_AS_ONE)
_AT_ONCE = 500


def upgrade() -> None:
    connection = op.get_bind()
    postgresql = on_postgresql()
    holds = (
        "{field} ~ :letters" if postgresql else "{field} GLOB :letters"
    )  # GLOB: SQLite's, case-sensitive and by character, as a character class needs
    letters = f"[{_LETTERS}]" if postgresql else f"*[{_LETTERS}]*"
    condition = " OR ".join(holds.format(field=field) for field in ("title", "teaser", "text"))
    seqs = connection.execute(sa.text(f"SELECT seq FROM articles WHERE {condition}"), {"letters": letters})
    found = list(seqs.scalars())
    read = sa.text("SELECT seq, title, teaser, text FROM articles WHERE seq IN :seqs").bindparams(
        sa.bindparam("seqs", expanding=True)
    )
    if postgresql:
        write = sa.text(
            "UPDATE articles SET search = CAST(:vector AS tsvector), search_gaps = :gaps WHERE seq = :seq"
        )
    else:
        write = sa.text("UPDATE articles_fts SET title = :title, body = :body WHERE rowid = :seq")
    for start in range(0, len(found), _AT_ONCE):
        rows = connection.execute(read, {"seqs": found[start : start + _AT_ONCE]}).all()
        values = []
        for seq, title, teaser, text in rows:
            indexed_title, body = index_article(title, teaser or "", text or "")
            if postgresql:
                vector, gaps = search_vector(indexed_title, body)
                values.append({"seq": seq, "vector": vector, "gaps": gaps})
            else:
                values.append({"seq": seq, "title": indexed_title, "body": body})
        if values:
            connection.execute(write, values)


def downgrade() -> None:
    pass  # an older monitor reads the letters apart: its searches miss what they missed before
