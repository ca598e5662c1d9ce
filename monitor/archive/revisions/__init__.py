"""Alembic's revisions of the archive's schema (versions/), applied by schema.py to PostgreSQL
and SQLite archives alike. A revision for one backend only says so and returns on the other
(r14-r16: PostgreSQL's full-text index and the turns of daemons sharing it)."""

from alembic import op


def on_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"
