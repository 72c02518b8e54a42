"""report comments and rendered report charts (appendix)

Revision ID: appx1
Revises: tablet01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "appx1"
down_revision = "tablet01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_comment",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.PrimaryKeyConstraint("year", "indicator", name=op.f("pk_report_comment")),
    )
    op.create_table(
        "report_asset",
        sa.Column("cache_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("cache_key", "name", name=op.f("pk_report_asset")),
    )


def downgrade() -> None:
    op.drop_table("report_asset")
    op.drop_table("report_comment")
