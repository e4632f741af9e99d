"""the service desk's macros, and a conversation's priority

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:30:00.000000

A brand's ready answers (tandem.servicedesk.macros): a title, a text that may hold variables,
and actions applied when a reply is sent with it (tags added, the state it is left in, the
priority of the conversation's work from then on: conversations.priority). A tenant table with
the row-level security policy of the others on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tandem.core.db

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "macros"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "add_tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("then_state", sa.String(length=10), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "then_state IN ('pending', 'solved')", name=op.f("ck_macros_macro_then")
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "brand_id"],
            ["brands.client_id", "brands.id"],
            name=op.f("fk_macros_client_id_brand_id_brands"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_macros")),
        sa.UniqueConstraint(
            "client_id", "brand_id", "title", name=op.f("uq_macros_client_id_brand_id_title")
        ),
    )
    op.add_column("conversations", sa.Column("priority", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # The tenant read once per query, as 0017 made every tenant policy do.
        visible = "(SELECT tandem_tenant()) IS NULL OR client_id = (SELECT tandem_tenant())"
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {TABLE} USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    op.drop_column("conversations", "priority")
    op.drop_table(TABLE)  # its policy and security go with it
