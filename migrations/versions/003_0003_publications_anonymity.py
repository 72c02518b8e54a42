"""publications; answers without a date; pending answers and weekly counters

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "pending_response",
        sa.Column("id", STR(length=32), nullable=False),
        sa.Column("round_id", STR(), nullable=False),
        sa.Column("payload", STR(length=20000), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_pending_response_round_id_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_response")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_pending_response_round_id"), "pending_response", ["round_id"], unique=False
    )
    op.create_table(
        "response_count",
        sa.Column("round_id", STR(), nullable=False),
        sa.Column("week", STR(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_response_count_round_id_round")
        ),
        sa.PrimaryKeyConstraint("round_id", "week", name=op.f("pk_response_count")),
    )
    _weekly_counts_from_dates()
    with op.batch_alter_table(
        "response", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch_op:
        batch_op.drop_column("submitted_on")

    op.create_table(
        "publication",
        sa.Column("id", STR(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_by", STR(length=254), nullable=False),
        sa.Column("min_cell", sa.Integer(), nullable=False),
        sa.Column("protect_other", sa.Boolean(), nullable=False),
        sa.Column("instrument_version", STR(length=40), nullable=False),
        sa.Column("method_note", STR(length=4000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication")),
        sa.UniqueConstraint("year", "version", name=op.f("uq_publication_year")),
    )
    op.create_index(op.f("ix_publication_year"), "publication", ["year"], unique=False)
    op.create_table(
        "publication_row",
        sa.Column("publication_id", STR(), nullable=False),
        sa.Column("scope", STR(length=200), nullable=False),
        sa.Column("indicator", sa.Integer(), nullable=False),
        sa.Column("questionnaire", STR(length=40), nullable=False),
        sa.Column("question", sa.Integer(), nullable=False),
        sa.Column("subgroup", STR(length=10), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=True)
            for name in (
                "n",
                "answered",
                "negative_n",
                "neutral_n",
                "positive_n",
                "clearly_positive_n",
                "response_rate",
                "negative",
                "neutral",
                "positive",
                "clearly_positive",
            )
        ],
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("reason", STR(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_publication_row_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id",
            "scope",
            "indicator",
            "questionnaire",
            "question",
            "subgroup",
            name=op.f("pk_publication_row"),
        ),
    )
    op.create_table(
        "publication_group",
        sa.Column("publication_id", STR(), nullable=False),
        sa.Column("scope", STR(length=200), nullable=False),
        sa.Column("questionnaire", STR(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_publication_group_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id", "scope", "questionnaire", name=op.f("pk_publication_group")
        ),
    )
    op.create_table(
        "publication_national",
        sa.Column("publication_id", STR(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("questionnaire", STR(length=40), nullable=False),
        sa.Column("question", sa.Integer(), nullable=False),
        sa.Column("subgroup", STR(length=10), nullable=False),
        sa.Column("positive", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_publication_national_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id",
            "year",
            "questionnaire",
            "question",
            "subgroup",
            name=op.f("pk_publication_national"),
        ),
    )
    op.create_table(
        "publish_lock",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_publish_lock")),
    )


def _weekly_counts_from_dates() -> None:
    """Turn each stored submission date into a count per round and ISO week, then forget it."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT round_id, submitted_on FROM response WHERE round_id IS NOT NULL")
    ).all()
    counts: Counter[tuple[str, str]] = Counter()
    for round_id, submitted in rows:
        if isinstance(submitted, str):  # SQLite returns the date as text
            submitted = date.fromisoformat(submitted[:10])
        year, week, _ = submitted.isocalendar()
        counts[(round_id, f"{year}-W{week:02d}")] += 1
    if counts:
        conn.execute(
            sa.text("INSERT INTO response_count (round_id, week, count) VALUES (:r, :w, :c)"),
            [{"r": r, "w": w, "c": c} for (r, w), c in counts.items()],
        )


def downgrade() -> None:
    for table in (
        "publish_lock",
        "publication_national",
        "publication_group",
        "publication_row",
    ):
        op.drop_table(table)
    op.drop_index(op.f("ix_publication_year"), table_name="publication")
    op.drop_table("publication")
    # The dates are gone for good: a downgrade gives every answer the first day of its year.
    with op.batch_alter_table(
        "response", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch_op:
        batch_op.add_column(sa.Column("submitted_on", sa.Date(), nullable=True))
    op.execute(_SET_FIRST_DAY[op.get_bind().dialect.name == "sqlite"])
    with op.batch_alter_table(
        "response", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch_op:
        batch_op.alter_column("submitted_on", nullable=False)
    op.drop_table("response_count")
    op.drop_index(op.f("ix_pending_response_round_id"), table_name="pending_response")
    op.drop_table("pending_response")


_SET_FIRST_DAY = {
    True: "UPDATE response SET submitted_on = printf('%04d-01-01', year)",
    False: "UPDATE response SET submitted_on = make_date(year, 1, 1)",
}
