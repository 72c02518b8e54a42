"""kiosk sessions: idle time per round, tablet queue counters (counts only)

Revision ID: tablet01
Revises: 0004ops
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tablet01"
down_revision = "0004ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kiosk_idle_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("tablet_waiting", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("tablet_refused", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "tablet_storage_full", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_column("tablet_storage_full")
        batch_op.drop_column("tablet_refused")
        batch_op.drop_column("tablet_waiting")
        batch_op.drop_column("kiosk_idle_seconds")
