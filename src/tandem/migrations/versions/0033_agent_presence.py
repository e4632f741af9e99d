"""agent presence

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 15:00:00.000000

agent_presence: each change of an agent's presence (tandem.workforce.presence): available
(signed in, ready for work), break, or signed out, since when, and by which means (signing
in, signing out, the workbench's button, the API). Read with the console sessions and the
work items' lease events for adherence (tandem.reports.adherence). The provider's own rows,
per agent and never per client: no client_id, hence no row-level security policy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "agent_presence"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("means", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "state IN ('available', 'break', 'signed_out')", name=op.f("ck_agent_presence_state")
        ),
        sa.CheckConstraint(
            "means IN ('sign_in', 'sign_out', 'console', 'api')",
            name=op.f("ck_agent_presence_means"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_presence_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_presence")),
    )
    op.create_index("ix_agent_presence_agent_at", TABLE, ["agent_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_agent_presence_agent_at", table_name=TABLE)
    op.drop_table(TABLE)
