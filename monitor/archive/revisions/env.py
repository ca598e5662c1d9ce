"""Alembic's entry: the revisions run on the connection schema.py hands over, in its transaction."""

from alembic import context

from monitor.archive.tables import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
