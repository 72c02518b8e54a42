"""background jobs: publishing off the participants' workers; a covering index for
publishing's counts (issue 13)

Revision ID: bg1
Revises: appx1
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "bg1"
down_revision = "appx1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "background_job",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("min_cell", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_job")),
    )
    op.create_index(op.f("ix_background_job_year"), "background_job", ["year"], unique=False)
    op.create_index(
        "ix_response_year_groups",
        "response",
        ["year", "questionnaire_key", "intervention_id", "gender"],
        unique=False,
    )
    op.drop_index("ix_response_year", table_name="response")


def downgrade() -> None:
    op.create_index("ix_response_year", "response", ["year"], unique=False)
    op.drop_index("ix_response_year_groups", table_name="response")
    op.drop_index(op.f("ix_background_job_year"), table_name="background_job")
    op.drop_table("background_job")
