"""console indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 11:48:00

What the console reads at a glance, with a million items: the client portal's KPIs (a
client's items delivered in a period, by delivery time, carrying what SLA attainment,
turnaround and cost read); the operations floor's counts of open work (the open-items index
now carries routing key, risk and breach flags: read from the index alone) and its list of
work at risk or breached, soonest due first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERED = "state = 'delivered' AND NOT gold"
OPEN = "state NOT IN ('delivered', 'cancelled')"
URGENT = "state NOT IN ('delivered', 'cancelled') AND (at_risk OR breached) AND NOT gold"


def upgrade() -> None:
    op.create_index(
        "ix_work_items_delivered",
        "work_items",
        ["client_id", "delivered_at"],
        postgresql_include=["process_id", "received_at", "due_at"],
        postgresql_where=sa.text(DELIVERED),
        sqlite_where=sa.text(DELIVERED),
    )
    op.create_index(
        "ix_work_items_urgent",
        "work_items",
        ["due_at"],
        postgresql_where=sa.text(URGENT),
        sqlite_where=sa.text(URGENT),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_work_items_open", table_name="work_items")
        op.create_index(
            "ix_work_items_open",
            "work_items",
            ["client_id", "process_id", "state"],
            postgresql_include=["routing_key", "at_risk", "breached", "gold"],
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_work_items_open", table_name="work_items")
        op.create_index(
            "ix_work_items_open",
            "work_items",
            ["client_id", "process_id", "state"],
            postgresql_where=sa.text(OPEN),
        )
    op.drop_index("ix_work_items_urgent", table_name="work_items")
    op.drop_index("ix_work_items_delivered", table_name="work_items")
