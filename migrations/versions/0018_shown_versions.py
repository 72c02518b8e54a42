"""versions are tables too: every version of a year that someone saw (publications and
the administrator's previews) keeps the counts it was made from (issue 17)

Revision ID: 0018
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shown_version",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("publication_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_shown_version_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shown_version")),
        sa.UniqueConstraint("year", "seq", name=op.f("uq_shown_version_year")),
    )
    op.create_index(op.f("ix_shown_version_year"), "shown_version", ["year"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shown_version_year"), table_name="shown_version")
    op.drop_table("shown_version")
