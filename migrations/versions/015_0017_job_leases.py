"""jobs on several instances: a job is held by a lease a worker renews; a publication
records the job that made it; the year's publishing lock is a database (advisory) or
file lock that dies with its process, so the publish_lock table goes (issues 18, 20)

Revision ID: 0017
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.add_column(
            sa.Column(
                "worker",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_column("pid")
    # the defaults only filled the rows that exist; the model sets both from now on
    with op.batch_alter_table("background_job") as batch:
        batch.alter_column("worker", server_default=None)
        batch.alter_column("attempts", server_default=None)
    # a job that was running under the old scheme (a spawned process) has no lease:
    # it ran out at once, so a worker takes it up again or gives it up
    op.execute(
        "UPDATE background_job SET lease_until = started_at, attempts = 1 WHERE status = 'running'"
    )
    with op.batch_alter_table("publication") as batch:
        batch.add_column(
            sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch.create_unique_constraint(op.f("uq_publication_job_id"), ["job_id"])
        batch.create_foreign_key(
            op.f("fk_publication_job_id_background_job"),
            "background_job",
            ["job_id"],
            ["id"],
        )
    op.drop_table("publish_lock")


def downgrade() -> None:
    op.create_table(
        "publish_lock",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_publish_lock")),
    )
    with op.batch_alter_table("publication") as batch:
        batch.drop_constraint(op.f("fk_publication_job_id_background_job"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_publication_job_id"), type_="unique")
        batch.drop_column("job_id")
    with op.batch_alter_table("background_job") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.drop_column("attempts")
        batch.drop_column("lease_until")
        batch.drop_column("worker")
