"""report comments per scope, standing report texts, history frozen with each publication
(issue 19)

Revision ID: 0014
Revises: 0015 (written on bg1; chained after main's head at the merge)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Comments belong to a scope (the förbund "" or one insats); existing ones are the förbund's.
    with op.batch_alter_table("report_comment") as batch:
        batch.add_column(
            sa.Column(
                "scope",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch.drop_constraint("pk_report_comment", type_="primary")
        batch.create_primary_key("pk_report_comment", ["year", "scope", "indicator"])
    op.create_table(
        "report_text",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_report_text")),
    )
    op.create_table(
        "publication_history",
        sa.Column("publication_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("question", sa.Integer(), nullable=False),
        sa.Column("subgroup", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("negative", sa.Integer(), nullable=True),
        sa.Column("neutral", sa.Integer(), nullable=True),
        sa.Column("positive", sa.Integer(), nullable=True),
        sa.Column("clearly_positive", sa.Integer(), nullable=True),
        sa.Column("response_rate", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_publication_history_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id",
            "year",
            "questionnaire",
            "question",
            "subgroup",
            name=op.f("pk_publication_history"),
        ),
    )
    # Existing publications keep the history as it stands today (from now on it is frozen).
    op.execute(
        "INSERT INTO publication_history (publication_id, year, questionnaire, question, "
        "subgroup, n, negative, neutral, positive, clearly_positive, response_rate) "
        "SELECT p.id, h.year, h.questionnaire_key, h.question, h.subgroup, h.n, h.negative, "
        "h.neutral, h.positive, h.clearly_positive, h.response_rate "
        "FROM publication p JOIN history_figure h ON h.year <= p.year"
    )


def downgrade() -> None:
    op.drop_table("publication_history")
    op.drop_table("report_text")
    op.execute("DELETE FROM report_comment WHERE scope <> ''")
    with op.batch_alter_table("report_comment") as batch:
        batch.drop_constraint("pk_report_comment", type_="primary")
        batch.create_primary_key("pk_report_comment", ["year", "indicator"])
        batch.drop_column("scope")
