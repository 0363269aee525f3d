"""Each owner's page language: "en", "zh", or "" while they have not chosen (the page follows the browser).

Rows already there get "" (not chosen).

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("owner_settings", sa.Column("language", sa.String(8), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("owner_settings") as batch:
        batch.drop_column("language")
