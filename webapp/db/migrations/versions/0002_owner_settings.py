"""Per-owner chat settings (temperature, top_p, max tokens, math, reasoning shown, persona).

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_settings",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("temperature", sa.Float, nullable=False),
        sa.Column("top_p", sa.Float, nullable=False),
        sa.Column("max_tokens", sa.Integer),
        sa.Column("math", sa.Boolean, nullable=False),
        sa.Column("show_reasoning", sa.Boolean, nullable=False),
        sa.Column("persona", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("owner_settings")
