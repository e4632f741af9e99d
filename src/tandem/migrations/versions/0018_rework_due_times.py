"""rework due times

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:40:00

A result the client rejects is redone on a clock of its own: the process's rework target
(`processes.rework_sla_minutes`; none: its own target) from the rejection, instead of the
first due time, which had often passed (the item came back breached and jumped the queue).
The first delivery is kept on the item (`first_delivered_at`, `first_due_at`), and the client's
SLA attainment counts it as it was; the items delivered again after a rejection have an index
of their own (`ix_work_items_redelivered`), small, so that the KPI stays two index-only scans
and `ix_work_items_delivered` is left as it is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDELIVERED = "state = 'delivered' AND NOT gold AND first_due_at IS NOT NULL"


def upgrade() -> None:
    # Batch mode: SQLite adds a check constraint by copying the table.
    with op.batch_alter_table("processes") as batch_op:
        batch_op.add_column(sa.Column("rework_sla_minutes", sa.Integer(), nullable=True))
        batch_op.create_check_constraint("rework_sla_minutes", "rework_sla_minutes > 0")
    for column in ("first_delivered_at", "first_due_at"):
        op.add_column(
            "work_items",
            sa.Column(column, tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        )
    op.create_index(
        "ix_work_items_redelivered",
        "work_items",
        ["client_id", "delivered_at"],
        postgresql_include=["due_at", "first_delivered_at", "first_due_at", "gold"],
        postgresql_where=sa.text(REDELIVERED),
        sqlite_where=sa.text(REDELIVERED),
    )


def downgrade() -> None:
    op.drop_index("ix_work_items_redelivered", table_name="work_items")
    op.drop_column("work_items", "first_due_at")
    op.drop_column("work_items", "first_delivered_at")
    with op.batch_alter_table("processes") as batch_op:
        batch_op.drop_constraint("rework_sla_minutes", type_="check")
        batch_op.drop_column("rework_sla_minutes")
