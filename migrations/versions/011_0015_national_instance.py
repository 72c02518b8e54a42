"""national instance: registered förbund, their count packages, publication members
(issue 21)

Revision ID: 0015
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "national_member",
        sa.Column("id", _S(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_number", sa.String(length=20), nullable=False),
        sa.Column("public_key", _S(length=100), nullable=False),
        sa.Column("comparison_group", _S(length=100), nullable=False),
        sa.Column("registered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_national_member")),
        sa.UniqueConstraint("name", name=op.f("uq_national_member_name")),
        sa.UniqueConstraint("org_number", name=op.f("uq_national_member_org_number")),
    )
    op.create_table(
        "national_package",
        sa.Column("id", _S(length=32), nullable=False),
        sa.Column("member_id", _S(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("filename", _S(length=200), nullable=False),
        sa.Column("instrument_checksum", _S(length=64), nullable=False),
        sa.Column("software_version", _S(length=40), nullable=False),
        sa.Column("questionnaires", sa.Integer(), nullable=False),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("imported_by", _S(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["national_member.id"],
            name=op.f("fk_national_package_member_id_national_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_national_package")),
        sa.UniqueConstraint("digest", name=op.f("uq_national_package_digest")),
        sa.UniqueConstraint("member_id", "year", name=op.f("uq_national_package_member_id")),
    )
    op.create_index(
        op.f("ix_national_package_member_id"), "national_package", ["member_id"], unique=False
    )
    op.create_index(op.f("ix_national_package_year"), "national_package", ["year"], unique=False)
    op.create_table(
        "national_count",
        sa.Column("package_id", _S(), nullable=False),
        sa.Column("version_id", _S(length=70), nullable=False),
        sa.Column("subgroup", _S(length=10), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("questionnaire", _S(length=40), nullable=False),
        sa.Column("question", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["national_package.id"],
            name=op.f("fk_national_count_package_id_national_package"),
        ),
        sa.PrimaryKeyConstraint(
            "package_id", "version_id", "subgroup", "code", name=op.f("pk_national_count")
        ),
    )
    op.create_table(
        "national_mode_count",
        sa.Column("package_id", _S(), nullable=False),
        sa.Column("questionnaire", _S(length=40), nullable=False),
        sa.Column("mode", _S(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["national_package.id"],
            name=op.f("fk_national_mode_count_package_id_national_package"),
        ),
        sa.PrimaryKeyConstraint(
            "package_id", "questionnaire", "mode", name=op.f("pk_national_mode_count")
        ),
    )
    op.create_table(
        "national_publication_member",
        sa.Column("publication_id", _S(), nullable=False),
        sa.Column("member", _S(length=200), nullable=False),
        sa.Column("comparison_group", _S(length=100), nullable=False),
        sa.Column("package_digest", _S(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publication.id"],
            name=op.f("fk_national_publication_member_publication_id_publication"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id", "member", name=op.f("pk_national_publication_member")
        ),
    )


def downgrade() -> None:
    op.drop_table("national_publication_member")
    op.drop_table("national_mode_count")
    op.drop_table("national_count")
    op.drop_index(op.f("ix_national_package_year"), table_name="national_package")
    op.drop_index(op.f("ix_national_package_member_id"), table_name="national_package")
    op.drop_table("national_package")
    op.drop_table("national_member")
