"""kiosk links retired with a grace period, insats names compared without regard to case,
tablet counters clamped (issue 18)

- kiosk_retired_link: the hash of an enrolment link staff replaced or revoked, and
  when; tablets may still send forms fetched with it during the grace period.
- intervention.name_key: sha256 of the name NFKC-normalised and case folded, unique.
  Existing names that collide ("Steget" and "steget") keep their names; the later
  one gets a key of its own (so the migration never fails) and an administrator
  can rename it.
- round.tablet_waiting / tablet_refused: values outside 0 … 1,000,000 are clamped
  (the service now never writes more; PostgreSQL's int4 can no longer overflow).

Revision ID: 0012
Revises: bg1
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

from surveys.names import name_key

revision = "0012"
down_revision = "bg1"
branch_labels = None
depends_on = None

MAX_TABLET_COUNT = 1_000_000  # as surveys.services.kiosk.MAX_COUNT


def upgrade() -> None:
    op.create_table(
        "kiosk_retired_link",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_kiosk_retired_link_round_id_round")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_kiosk_retired_link")),
    )
    op.create_index(
        op.f("ix_kiosk_retired_link_round_id"), "kiosk_retired_link", ["round_id"], unique=False
    )
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=64), nullable=True))
    _fill_name_keys()
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_intervention_name_key"), ["name_key"])
    for column in ("tablet_waiting", "tablet_refused"):
        op.execute(
            f"UPDATE round SET {column} = {MAX_TABLET_COUNT} "  # noqa: S608 - fixed names
            f"WHERE {column} > {MAX_TABLET_COUNT}"
        )
        op.execute(f"UPDATE round SET {column} = 0 WHERE {column} < 0")  # noqa: S608


def _fill_name_keys() -> None:
    conn = op.get_bind()
    seen: set[str] = set()
    rows = conn.execute(sa.text("SELECT id, name FROM intervention ORDER BY name, id")).all()
    for intervention_id, name in rows:
        key = name_key(name)
        if key in seen:  # an older duplicate by case: a key of its own, never a typed one
            key = hashlib.sha256(f"{key}:{intervention_id}".encode()).hexdigest()
        seen.add(key)
        conn.execute(
            sa.text("UPDATE intervention SET name_key = :key WHERE id = :id"),
            {"key": key, "id": intervention_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_intervention_name_key"), type_="unique")
        batch_op.drop_column("name_key")
    op.drop_index(op.f("ix_kiosk_retired_link_round_id"), table_name="kiosk_retired_link")
    op.drop_table("kiosk_retired_link")
