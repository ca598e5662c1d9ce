"""Per-host politeness shared by the daemons of an archive (pg_hosts.py): each host's request
slots, held until a time, and the next time any daemon may start a request to it. Times are
the database's own clock, with their zone, whatever the zone of each daemon's session.

Revision ID: r16_host_turns
Revises: r15_search_gaps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.archive.revisions import on_postgresql

revision = "r16_host_turns"
down_revision = "r15_search_gaps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not on_postgresql():
        return
    op.create_table(
        "host_slots",
        sa.Column("host", sa.Text(), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "host_gaps",
        sa.Column("host", sa.Text(), primary_key=True),
        sa.Column("next_start", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    if not on_postgresql():
        return
    op.drop_table("host_gaps")
    op.drop_table("host_slots")
