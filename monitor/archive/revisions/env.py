"""Alembic's entry: the revisions run on the connection schema.py hands over, in its transaction.
A revision that drops or changes a column writes it as `op.batch_alter_table`, which SQLite does
by copying the table (render_as_batch makes autogenerate write them so)."""

from alembic import context

from monitor.archive.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
