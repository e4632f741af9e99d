"""a brand's service levels, and a conversation's resolution clock

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 13:30:00.000000

brands.sla: per priority, the first response, next response and resolution targets in minutes
of the brand's calendar (tandem.servicedesk.sla). conversations.resolution_due_at,
resolution_paused_remaining_s (what remained while waiting on the customer) and resolved_at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tandem.core.db

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "brands",
        sa.Column(
            "sla",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )
    for name, kind in (
        ("resolution_due_at", tandem.core.db.UTCDateTime(timezone=True)),
        ("resolution_paused_remaining_s", sa.Double()),
        ("resolved_at", tandem.core.db.UTCDateTime(timezone=True)),
    ):
        op.add_column("conversations", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name in ("resolved_at", "resolution_paused_remaining_s", "resolution_due_at"):
        op.drop_column("conversations", name)
    op.drop_column("brands", "sla")
