"""An index of the alert history in its order, newest first: a page of it, and the next from a
cursor, were each a sort of every alert.

Revision ID: r21_alerts_newest
Revises: r20_revised
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r21_alerts_newest"
down_revision = "r20_revised"
branch_labels = None
depends_on = None


def upgrade() -> None:
    held = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("alerts")}
    if "alerts_newest" not in held:  # an archive set back to an older revision keeps its indexes
        op.create_index("alerts_newest", "alerts", ["created", "id"])


def downgrade() -> None:
    op.drop_index("alerts_newest", "alerts")
