"""A search index over message text, so history search stops reading every message.

Search is a case-insensitive substring match (`LIKE '%term%'`), which no B-tree index
serves: at 200,000 messages each search read the whole 300 MB table (about 0.6 s).

SQLite gets an FTS5 trigram index over messages.content. It is external-content (it
keeps no second copy of the text, only the trigrams), kept in step by triggers, and
filled here from the messages already stored, once: at 200,000 messages that took
about a minute and as much disk again as the messages table. A later migration that
rebuilds the messages table (batch mode copies it) must make the triggers again.

PostgreSQL gets pg_trgm's GIN index, which serves `ILIKE '%term%'` itself. pg_trgm is
a trusted extension (PostgreSQL 13+): a database's owner may create it. A role that
may not, or a server without it, still migrates (the warning says how to add the index
later), and search scans as before; the same holds for a SQLite built without FTS5.

Revision ID: 0004
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("webapp.db.migrations")  # not the module name Alembic loads it under

FTS_TABLE = "messages_fts"
TRIGRAM_INDEX = "ix_messages_content_trgm"
# The external-content pattern of the FTS5 documentation: the index forgets a row's old text
# (the 'delete' command needs exactly the text it indexed) before it learns the new one.
TRIGGERS = {
    "messages_fts_insert": """
        AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""",
    "messages_fts_delete": """
        AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END""",
    "messages_fts_update": """
        AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgresql_upgrade()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        # The extension stays: it is the database's, and other tables may use it.
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def _sqlite_upgrade() -> None:
    bind = op.get_bind()
    if not bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar():
        log.warning("this SQLite has no FTS5: history search will read every message")
        return
    # case_sensitive 0 (the default, spelled out): the index folds case, for every script, so
    # it finds at least what LIKE finds; the search checks LIKE on what it finds.
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
        "content, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0')"
    )
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    count = bind.exec_driver_sql("SELECT count(*) FROM messages").scalar()
    if count:
        log.warning("indexing the text of %d stored messages for search (once; about a minute per 200,000)", count)
        op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def _postgresql_upgrade() -> None:
    bind = op.get_bind()
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as error:
        log.warning(
            "could not create the pg_trgm extension (%s): history search will read every message. "
            "Once a superuser has run CREATE EXTENSION pg_trgm, this index serves it: CREATE INDEX %s "
            "ON messages USING gin (content gin_trgm_ops)",
            str(error.orig).strip(),
            TRIGRAM_INDEX,
        )
        return
    op.create_index(
        TRIGRAM_INDEX, "messages", ["content"], postgresql_using="gin", postgresql_ops={"content": "gin_trgm_ops"}
    )
