"""User ids are never reused; each user says who manages them (configuration or admins) and may be disabled.

A user's data is owned by the string `user:<id>`. SQLite's users table was a plain
rowid table, which hands the highest id back after that user's deletion: the next
user made inherited the deleted one's conversations, settings and share links. The
table is rebuilt with AUTOINCREMENT (PostgreSQL's SERIAL never reuses an id). Data
that deletions before this revision left behind (owner `user:<N>`, no user N) is
deleted, and SQLite's sequence is set above every such N, so nothing can inherit it.

The rebuild drops the old table, and SQLite (foreign keys on, inside a transaction
where they cannot be turned off) deletes the sessions and API tokens that refer to it
as it does: they are kept aside and put back.

`managed_by` ("config" or "ui") keeps USERS_FILE/ADMIN_USER users apart from those
admins make; `disabled` marks a configured user that the configuration dropped.
Users already there count as "ui" until the configuration names them (next start).

Revision ID: 0005
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OWNED = ("conversations", "owner_settings", "shares")  # tables whose rows belong to an owner
ORPHANED = "owner LIKE 'user:%' AND owner NOT IN (SELECT 'user:' || CAST(id AS VARCHAR(20)) FROM users)"
KEPT_ASIDE = ("sessions", "api_tokens")  # rows referring to users, deleted by SQLite's DROP TABLE users


def upgrade() -> None:
    bind = op.get_bind()
    above = _highest_orphaned_id(bind)
    for table in ("shares", "owner_settings", "conversations"):  # messages go with their conversation
        op.execute(sa.text(f"DELETE FROM {table} WHERE {ORPHANED}"))
    columns: list[sa.Column[Any]] = [
        sa.Column("managed_by", sa.String(16), nullable=False, server_default="ui"),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    ]
    if bind.dialect.name != "sqlite":
        for column in columns:
            op.add_column("users", column)
        return
    rebuilt = op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": True})
    with _referring_rows_kept(bind), rebuilt as batch:
        for column in columns:
            batch.add_column(column)
    _sequence_above(bind, above)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_column("users", "disabled")
        op.drop_column("users", "managed_by")
        return
    rebuilt = op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": False})
    with _referring_rows_kept(bind), rebuilt as batch:
        batch.drop_column("disabled")
        batch.drop_column("managed_by")


def _highest_orphaned_id(bind: sa.Connection) -> int:
    """The highest N of an owner `user:<N>` that has no user N, or 0."""
    found = 0
    for table in OWNED:
        for (owner,) in bind.execute(sa.text(f"SELECT DISTINCT owner FROM {table} WHERE {ORPHANED}")):
            number = owner.removeprefix("user:")
            if number.isdigit():
                found = max(found, int(number))
    return found


@contextmanager
def _referring_rows_kept(bind: sa.Connection) -> Iterator[None]:
    """Keep the rows of sessions and api_tokens aside while the users table is rebuilt."""
    for table in KEPT_ASIDE:
        bind.exec_driver_sql(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
    yield  # on an error, the migration's transaction is rolled back, temporary tables with it
    for table in KEPT_ASIDE:
        bind.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM temp.kept_{table}")
        bind.exec_driver_sql(f"DROP TABLE temp.kept_{table}")


def _sequence_above(bind: sa.Connection, number: int) -> None:
    """SQLite's AUTOINCREMENT counter for users: at least `number` (the next id is above it)."""
    if number <= 0:
        return
    updated = bind.exec_driver_sql(
        "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'users'", (number,)
    ).rowcount
    if not updated:
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', ?)", (number,))
