"""Conversations pinned to the top of their owner's list.

Rows already there are not pinned.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # In place (SQLite 3.35+): a batch copy would drop the table its messages point to.
    op.execute("ALTER TABLE conversations DROP COLUMN pinned")
