"""import batches (history/Riket removable per upload) and failed sign-ins shared by workers

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failure",
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "window_start", name=op.f("pk_signin_failure")),
    )
    op.create_table(
        "import_batch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    for table in ("history_figure", "national_figure"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_batch_id_import_batch"),
                "import_batch",
                ["batch_id"],
                ["id"],
            )


def downgrade() -> None:
    for table in ("history_figure", "national_figure"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_batch_id_import_batch"), type_="foreignkey"
            )
            batch_op.drop_column("batch_id")
    op.drop_table("import_batch")
    op.drop_table("signin_failure")
