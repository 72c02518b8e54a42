"""instrument checksum: lets every worker cache the catalogue until it is reloaded

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instrument_info", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "checksum",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("instrument_info", schema=None) as batch_op:
        batch_op.drop_column("checksum")
