"""an imported NNS package keeps its signed number in the year, so that an older
package (a lower number) never replaces a newer one; packages imported before keep 0

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("national_package") as batch:
        batch.add_column(
            sa.Column("package_number", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("national_package") as batch:
        batch.drop_column("package_number")
