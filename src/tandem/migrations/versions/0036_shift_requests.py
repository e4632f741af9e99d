"""agents' shift requests

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 18:10:00.000000

shift_requests (tandem.workforce.shift_requests): an agent's wish for one local date at
their center, a day off or a shift starting at a local time, with a note; pending until a
roster covering the date is planned (granted or not granted, in which roster), or withdrawn.
The provider's own rows, per agent and never per client, like the other workforce tables
(rosters 0032, agent_presence 0033): no client_id, hence no row-level security policy.
An expand migration: a new table only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "shift_requests"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("roster_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('day_off', 'shift_start')", name=op.f("ck_shift_requests_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'granted', 'not_granted', 'withdrawn')",
            name=op.f("ck_shift_requests_status"),
        ),
        sa.CheckConstraint(
            "(kind = 'shift_start' AND start_minute BETWEEN 0 AND 1439)"
            " OR (kind = 'day_off' AND start_minute IS NULL)",
            name=op.f("ck_shift_requests_start_minute"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_shift_requests_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["roster_id"], ["rosters.id"], name=op.f("fk_shift_requests_roster_id_rosters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_requests")),
    )
    op.create_index("ix_shift_requests_agent_date", TABLE, ["agent_id", "local_date"], unique=False)
    op.create_index("ix_shift_requests_date", TABLE, ["local_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shift_requests_date", table_name=TABLE)
    op.drop_index("ix_shift_requests_agent_date", table_name=TABLE)
    op.drop_table(TABLE)
