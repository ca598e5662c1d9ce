"""When an article was last revised: a new version of it (its feed entry changed) replaced the
stored one. Null for the articles stored before, as for those never revised.

Revision ID: r20_revised
Revises: r19_hong_kong_variants
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r20_revised"
down_revision = "r19_hong_kong_variants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    held = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("articles")}
    if "revised" not in held:  # an archive set back to an older revision keeps its columns
        op.add_column("articles", sa.Column("revised", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as table:  # SQLite drops a column by copying the table
        table.drop_column("revised")
