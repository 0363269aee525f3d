"""When a conversation was deleted from the page, while it can still be brought back (undo).

Such a conversation is hidden from everything its owner reads, and deleted for good once its
undo time has passed (`webapp.db.keeping`). Rows already there are not deleted (NULL).

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("deleted_at", sa.Float(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")  # deleted: they go for good now
    # In place (SQLite 3.35+): a batch copy would drop the table its messages point to.
    op.execute("ALTER TABLE conversations DROP COLUMN deleted_at")
