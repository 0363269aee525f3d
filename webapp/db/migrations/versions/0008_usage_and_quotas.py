"""Token usage per owner and UTC day, and each owner's own daily quota.

Quotas are counted in the engine's tokens, so the counts are kept as it reports them; a
quota an admin sets for one owner overrides DAILY_TOKENS_PER_USER (NULL: no quota for them).
Nothing existing changes: both tables start empty.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
    )
    op.create_index("ix_usage_day", "usage", ["day"])
    op.create_table(
        "quotas",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("daily_tokens", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quotas")
    op.drop_index("ix_usage_day", table_name="usage")
    op.drop_table("usage")
