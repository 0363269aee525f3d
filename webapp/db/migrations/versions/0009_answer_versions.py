"""Answer versions: each message names the message it follows, so a question can have several
answers (regenerated) and an edited question starts a branch of its own (`webapp.db.tree`).

A conversation from before is one branch: each of its messages follows the one before it.
`chosen_at` stays NULL (never chosen: a message's creation time ranks it among its versions).
Plain ADD COLUMN on both databases: rebuilding the messages table would drop SQLite's search
triggers (migration 0004).

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Each message follows the one before it in its conversation (the (conversation_id, id) index
# finds it); a first message follows none.
LINK_IN_ORDER = (
    "UPDATE messages SET parent_id = (SELECT max(earlier.id) FROM messages AS earlier "
    "WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id)"
)


def upgrade() -> None:
    op.add_column("messages", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("chosen_at", sa.Float(), nullable=True))
    op.execute(LINK_IN_ORDER)


def downgrade() -> None:
    # Before versions a conversation was one list: only the chosen branch of each is kept.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, conversation_id, parent_id, coalesce(chosen_at, created_at) FROM messages ORDER BY id")
    ).all()
    children: dict[tuple[str, int | None], list[tuple[float, int]]] = {}
    for message_id, conversation_id, parent_id, rank in rows:
        children.setdefault((conversation_id, parent_id), []).append((rank, message_id))
    kept: set[int] = set()
    for conversation_id in {row[1] for row in rows}:
        parent: int | None = None
        while (conversation_id, parent) in children:
            parent = max(children[(conversation_id, parent)])[1]
            kept.add(parent)
    gone = [row[0] for row in rows if row[0] not in kept]
    for start in range(0, len(gone), 500):
        bind.execute(
            sa.text("DELETE FROM messages WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": gone[start : start + 500]},
        )
    op.execute("ALTER TABLE messages DROP COLUMN chosen_at")
    op.execute("ALTER TABLE messages DROP COLUMN parent_id")
