"""a person's time zone, and a client's currency

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:20:00

The console shows times in each person's time zone: their own choice, else their client's
(client people) or their delivery center's (agents), else UTC. A client's prices and costs
are in its currency (ISO 4217), named wherever money shows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column(
        "clients",
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("clients", "currency")
    op.drop_column("users", "time_zone")
