"""a Riket figure keeps the version of NNS's national publication its file came from
(signed with the file), so that an older Riket file never replaces a newer one; figures
imported before, or from a file without a version, keep NULL

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("national_figure") as batch:
        batch.add_column(sa.Column("riket_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("national_figure") as batch:
        batch.drop_column("riket_version")
