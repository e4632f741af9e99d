"""rosters: dated shifts planned and published per center

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 15:00:00.000000

rosters (a plan over some centers' local dates for some agents, draft, published or superseded, with its
requirement's source, labour rules, cost, objective, coverage and solver figures),
roster_shifts (an agent's shift on a local date: UTC start and end, cost, night minutes),
roster_requirements (the agents required per 15-minute UTC interval) and roster_days (which
published roster decides a center's local date). The provider's own tables (the agents are
the provider's): no client_id, no row-level security, like the other workforce tables.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tandem.core.db

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rosters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("centers", _json(), nullable=False),
        sa.Column("agent_ids", _json(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", _json(), nullable=False),
        sa.Column("rules", _json(), nullable=False),
        sa.Column("start_utc", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("intervals", sa.Integer(), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("objective_cents", sa.BigInteger(), nullable=False),
        sa.Column("short_agent_intervals", sa.Integer(), nullable=False),
        sa.Column("coverage", sa.Double(), nullable=False),
        sa.Column("solver_status", sa.String(length=16), nullable=False),
        sa.Column("solver_seconds", sa.Double(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.Column("published_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('draft', 'published', 'superseded')", name=op.f("ck_rosters_state")
        ),
        sa.CheckConstraint("days BETWEEN 1 AND 28", name=op.f("ck_rosters_days")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rosters")),
    )
    op.create_table(
        "roster_days",
        sa.Column("center_code", sa.String(length=16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("roster_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_code"],
            ["delivery_centers.code"],
            name=op.f("fk_roster_days_center_code_delivery_centers"),
        ),
        sa.ForeignKeyConstraint(
            ["roster_id"], ["rosters.id"], name=op.f("fk_roster_days_roster_id_rosters")
        ),
        sa.PrimaryKeyConstraint("center_code", "local_date", name=op.f("pk_roster_days")),
    )
    op.create_index(op.f("ix_roster_days_roster_id"), "roster_days", ["roster_id"], unique=False)
    op.create_table(
        "roster_requirements",
        sa.Column("roster_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["roster_id"], ["rosters.id"], name=op.f("fk_roster_requirements_roster_id_rosters")
        ),
        sa.PrimaryKeyConstraint("roster_id", "starts_at", name=op.f("pk_roster_requirements")),
    )
    op.create_table(
        "roster_shifts",
        sa.Column("roster_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("center_code", sa.String(length=16), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cost_cents", sa.Integer(), nullable=False),
        sa.Column("night_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_roster_shifts_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["center_code"],
            ["delivery_centers.code"],
            name=op.f("fk_roster_shifts_center_code_delivery_centers"),
        ),
        sa.ForeignKeyConstraint(
            ["roster_id"], ["rosters.id"], name=op.f("fk_roster_shifts_roster_id_rosters")
        ),
        sa.PrimaryKeyConstraint(
            "roster_id", "agent_id", "local_date", name=op.f("pk_roster_shifts")
        ),
    )
    op.create_index(
        "ix_roster_shifts_agent_date", "roster_shifts", ["agent_id", "local_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_roster_shifts_agent_date", table_name="roster_shifts")
    op.drop_table("roster_shifts")
    op.drop_table("roster_requirements")
    op.drop_index(op.f("ix_roster_days_roster_id"), table_name="roster_days")
    op.drop_table("roster_days")
    op.drop_table("rosters")
