"""encryption at rest and retention

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:39:13.819726

Personal fields sealed per item with the client's key (work_items.sealed, clients.key_version,
key_rotations); a retention period per client, purged items and purge reports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tandem.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = ("key_rotations", "purge_reports")


def upgrade() -> None:
    op.create_table(
        "key_rotations",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cursor", sa.Uuid(), nullable=True),
        sa.Column("resealed", sa.Integer(), nullable=False),
        sa.Column("finished_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_key_rotations")),
    )
    op.create_table(
        "purge_reports",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cutoff", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_purge_reports")),
    )
    op.add_column(
        "clients", sa.Column("key_version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("clients", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column(
        "clients", sa.Column("ended_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("work_items", sa.Column("sealed", sa.Text(), nullable=True))
    op.add_column(
        "work_items",
        sa.Column("purged_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":  # as 0006 does for the other tenant tables
        visible = "tandem_tenant() IS NULL OR client_id = tandem_tenant()"
        for table in NEW_TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({visible}) "
                f"WITH CHECK ({visible})"
            )


def downgrade() -> None:
    op.drop_column("work_items", "purged_at")
    op.drop_column("work_items", "sealed")
    op.drop_column("clients", "ended_at")
    op.drop_column("clients", "retention_days")
    op.drop_column("clients", "key_version")
    op.drop_table("purge_reports")
    op.drop_table("key_rotations")
