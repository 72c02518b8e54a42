"""pending answers sealed under a pending key kept outside the database (issue 17)

Revision ID: 0011
Revises: 0016

Rows that wait at upgrade keep their plain JSON (``key_id`` empty) and are released as
before; every answer taken after the upgrade is sealed. Closing the round or publishing
its year releases the old ones.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0016"  # chained after main's head at the merge (was bg1)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table(
        "pending_response", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch:
        batch.add_column(
            sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table(
        "pending_response", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch:
        batch.drop_column("key_id")
