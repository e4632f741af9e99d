"""item events by time

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:58:00

The audit trail seals each client's item events window by window of event time
(tandem.work.trail): one index to read a window, and to check it again later.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_work_item_events_at", "work_item_events", ["client_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_work_item_events_at", table_name="work_item_events")
