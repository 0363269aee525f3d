"""Alembic environment: runs on the connection the store hands over (or on the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from webapp.db.search import in_models
from webapp.db.tables import Base


def run(connection: Connection) -> None:
    # Batch mode lets later migrations alter SQLite tables (it copies the table).
    context.configure(
        connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_name=in_models
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(context.config.get_main_option("sqlalchemy.url") or "").begin() as conn:
        run(conn)
