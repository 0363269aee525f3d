"""Each owner's thinking budget: how many tokens R1 may think before it must answer.

Rows already there get NULL (no cap), as before.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("owner_settings", sa.Column("thinking_budget", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("owner_settings") as batch:
        batch.drop_column("thinking_budget")
