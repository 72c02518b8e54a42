"""disclosure control: left-out counts and the kind of suppression per published row;
who typed how many paper questionnaires (issue 17)

Revision ID: 0010
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0017"  # chained after main's head at the merge (was bg1)
branch_labels = None
depends_on = None

_KIND = (
    "UPDATE publication_row SET suppression_kind = CASE WHEN NOT suppressed THEN '' "
    "WHEN reason = 'för få svar' THEN 'primary' ELSE 'complementary' END"
)


def upgrade() -> None:
    with op.batch_alter_table("publication_row") as batch:
        for name in ("left_out", "left_out_gender", "left_out_insats"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column(
                "suppression_kind",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )
    op.execute(_KIND)
    with op.batch_alter_table("publication_row") as batch:
        batch.drop_column("suppressed")
        batch.alter_column("suppression_kind", new_column_name="suppressed")
    op.create_table(
        "paper_typist",
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("gender", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("typed_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_paper_typist_round_id_round")
        ),
        sa.PrimaryKeyConstraint("round_id", "gender", "typed_by", name=op.f("pk_paper_typist")),
    )


def downgrade() -> None:
    op.drop_table("paper_typist")
    with op.batch_alter_table("publication_row") as batch:
        batch.add_column(
            sa.Column("suppressed_flag", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE publication_row SET suppressed_flag = (suppressed <> '')")
    with op.batch_alter_table("publication_row") as batch:
        batch.drop_column("suppressed")
        batch.alter_column("suppressed_flag", new_column_name="suppressed")
        for name in ("left_out", "left_out_gender", "left_out_insats"):
            batch.drop_column(name)
