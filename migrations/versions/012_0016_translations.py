"""translations as data: languages, translated texts with the Swedish text's hash, and a
per-round count of questionnaires answered in each language (issue 22)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "translation_language",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("approved_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "approved_reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("loaded_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_translation_language")),
    )
    op.create_table(
        "translation_text",
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sv_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["language"],
            ["translation_language.code"],
            name=op.f("fk_translation_text_language_translation_language"),
        ),
        sa.PrimaryKeyConstraint("language", "key", name=op.f("pk_translation_text")),
    )
    op.create_table(
        "language_count",
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_language_count_round_id_round")
        ),
        sa.PrimaryKeyConstraint("round_id", "language", name=op.f("pk_language_count")),
    )


def downgrade() -> None:
    op.drop_table("language_count")
    op.drop_table("translation_text")
    op.drop_table("translation_language")
