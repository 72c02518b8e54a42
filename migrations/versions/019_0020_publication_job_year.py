"""a job publishes each year once: the all-years job publishes several years, each
publication records it, so ``publication.job_id`` is unique per year, not alone (issue 20)

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publication") as batch:
        batch.drop_constraint(op.f("uq_publication_job_id"), type_="unique")
        batch.create_unique_constraint("uq_publication_job_id_year", ["job_id", "year"])


def downgrade() -> None:
    # a job that published several years keeps its id on the newest one only
    op.execute(
        "UPDATE publication SET job_id = NULL WHERE job_id IS NOT NULL AND year < "
        "(SELECT max(p.year) FROM publication p WHERE p.job_id = publication.job_id)"
    )
    with op.batch_alter_table("publication") as batch:
        batch.drop_constraint("uq_publication_job_id_year", type_="unique")
        batch.create_unique_constraint(op.f("uq_publication_job_id"), ["job_id"])
