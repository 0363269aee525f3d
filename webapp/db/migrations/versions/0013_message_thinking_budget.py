"""Each answer's thinking budget, so the page can say when the budget cut its thought.

Answers already there get NULL (no budget known: no note).

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("thinking_budget", sa.Integer(), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+), as 0009's columns of this table are dropped.
    op.execute("ALTER TABLE messages DROP COLUMN thinking_budget")
