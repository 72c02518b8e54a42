"""Riket's n and the comparison groups, förbund side (issue 21, deliverable 3)

NNS's extended Riket file carries ``n`` and one set of rows per comparison group.
``national_figure`` keeps both (``comparison_group`` "" is Riket itself), and a
publication freezes them (``publication_national``) so the report can show
"Riket (n=3 970)" and the förbund's comparison group.

Revision ID: 0019
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0019"
down_revision = "0018"  # chained after 0018 at the merge (was 0010)
branch_labels = None
depends_on = None

GROUP = sqlmodel.sql.sqltypes.AutoString(length=100)
KEY = ["year", "questionnaire_key", "question", "subgroup"]
PUBLICATION_KEY = ["publication_id", "year", "questionnaire", "question", "subgroup"]


def upgrade() -> None:
    with op.batch_alter_table("national_figure") as batch:
        batch.add_column(sa.Column("n", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("comparison_group", GROUP, nullable=False, server_default=""))
        batch.drop_constraint("uq_national_figure_year", type_="unique")
        batch.create_unique_constraint("uq_national_figure_year", [*KEY, "comparison_group"])
    with op.batch_alter_table("publication_national") as batch:
        batch.add_column(sa.Column("n", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("comparison_group", GROUP, nullable=False, server_default=""))
        batch.drop_constraint("pk_publication_national", type_="primary")
        batch.create_primary_key("pk_publication_national", [*PUBLICATION_KEY, "comparison_group"])


def downgrade() -> None:
    # the comparison groups' rows have no place in the old tables
    op.execute("DELETE FROM publication_national WHERE comparison_group <> ''")
    op.execute("DELETE FROM national_figure WHERE comparison_group <> ''")
    with op.batch_alter_table("publication_national") as batch:
        batch.drop_constraint("pk_publication_national", type_="primary")
        batch.create_primary_key("pk_publication_national", PUBLICATION_KEY)
        batch.drop_column("comparison_group")
        batch.drop_column("n")
    with op.batch_alter_table("national_figure") as batch:
        batch.drop_constraint("uq_national_figure_year", type_="unique")
        batch.create_unique_constraint("uq_national_figure_year", KEY)
        batch.drop_column("comparison_group")
        batch.drop_column("n")
