"""staff and admin workflows: per-user session versions, kiosk enrolment links

Revision ID: 0004ops
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004ops"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_version",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_session_version_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_session_version"),
    )
    op.create_table(
        "kiosk_enrolment",
        sa.Column("round_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name="fk_kiosk_enrolment_round_id_round"
        ),
        sa.PrimaryKeyConstraint("round_id", name="pk_kiosk_enrolment"),
        sa.UniqueConstraint("token_hash", name="uq_kiosk_enrolment_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("kiosk_enrolment")
    op.drop_table("session_version")
