"""the service desk: brands, customers, conversations

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 06:42:18.821324

The service desk's tables (issue 17): brands and their support addresses, customers and their
identities, conversations, their messages and attachments. All tenant tables: on PostgreSQL
each gets the row-level security policy of the others (as 0019 gives it), and attachments'
sealed bytes are stored without compression (ciphertext does not compress).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tandem.core.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = (
    "customers",
    "brands",
    "customer_identities",
    "brand_addresses",
    "conversations",
    "conversation_messages",
    "conversation_attachments",
)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_customers_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_customers")),
    )
    op.create_table(
        "brands",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("process_id", sa.Uuid(), nullable=False),
        sa.Column("reply_from_name", sa.String(length=200), nullable=False),
        sa.Column("reply_from_address", sa.String(length=254), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("greeting", sa.Text(), nullable=False),
        sa.Column(
            "languages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "calendar",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "process_id"],
            ["processes.client_id", "processes.id"],
            name=op.f("fk_brands_client_id_process_id_processes"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_brands_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_brands")),
        sa.UniqueConstraint("client_id", "code", name=op.f("uq_brands_client_id_code")),
    )
    op.create_table(
        "customer_identities",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("masked", sa.String(length=254), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('email', 'phone')", name=op.f("ck_customer_identities_kind")),
        sa.ForeignKeyConstraint(
            ["client_id", "customer_id"],
            ["customers.client_id", "customers.id"],
            name=op.f("fk_customer_identities_client_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("client_id", "kind", "lookup", name=op.f("pk_customer_identities")),
    )
    op.create_table(
        "brand_addresses",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "brand_id"],
            ["brands.client_id", "brands.id"],
            name=op.f("fk_brand_addresses_client_id_brand_id_brands"),
        ),
        sa.PrimaryKeyConstraint("client_id", "address", name=op.f("pk_brand_addresses")),
    )
    op.create_index("ix_brand_addresses_address", "brand_addresses", ["address"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("pending_on", sa.String(length=12), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("unverified_sender", sa.Boolean(), nullable=False),
        sa.Column("work_item_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "pending_on IN ('customer', 'third_party')", name=op.f("ck_conversations_pending_on")
        ),
        sa.CheckConstraint(
            "state IN ('new', 'open', 'pending', 'solved', 'closed')",
            name=op.f("ck_conversations_conversation_state"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "brand_id"],
            ["brands.client_id", "brands.id"],
            name=op.f("fk_conversations_client_id_brand_id_brands"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "customer_id"],
            ["customers.client_id", "customers.id"],
            name=op.f("fk_conversations_client_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "work_item_id"],
            ["work_items.client_id", "work_items.id"],
            name=op.f("fk_conversations_client_id_work_item_id_work_items"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("client_id", "token", name=op.f("uq_conversations_client_id_token")),
    )
    op.create_index(
        "ix_conversations_customer", "conversations", ["client_id", "customer_id"], unique=False
    )

    op.create_table(
        "conversation_messages",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column(
            "references",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=254), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("has_html", sa.Boolean(), nullable=False),
        sa.Column("authentication", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('in', 'out', 'note')", name=op.f("ck_conversation_messages_direction")
        ),
        sa.CheckConstraint(
            "kind IN ('person', 'auto_reply', 'bounce')",
            name=op.f("ck_conversation_messages_message_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "conversation_id"],
            ["conversations.client_id", "conversations.id"],
            name=op.f("fk_conversation_messages_client_id_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_conversation_messages")),
    )
    op.create_index(
        "ix_conversation_messages_conversation",
        "conversation_messages",
        ["client_id", "conversation_id"],
        unique=False,
    )
    op.create_index(
        "ix_conversation_messages_message_id",
        "conversation_messages",
        ["client_id", "message_id"],
        unique=False,
    )

    op.create_table(
        "conversation_attachments",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed_with", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
            name=op.f("fk_conversation_attachments_client_id_message_id_conversation_messages"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_conversation_attachments")),
    )
    op.create_index(
        "ix_conversation_attachments_message",
        "conversation_attachments",
        ["client_id", "message_id"],
        unique=False,
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE conversation_attachments ALTER COLUMN content SET STORAGE EXTERNAL")
        # The tenant read once per query, as 0017 made every tenant policy do.
        visible = "(SELECT tandem_tenant()) IS NULL OR client_id = (SELECT tandem_tenant())"
        for table in NEW_TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({visible}) "
                f"WITH CHECK ({visible})"
            )


def downgrade() -> None:
    # The policies and the tables' security go with the tables.
    op.drop_index("ix_conversation_attachments_message", table_name="conversation_attachments")

    op.drop_table("conversation_attachments")
    op.drop_index("ix_conversation_messages_message_id", table_name="conversation_messages")
    op.drop_index("ix_conversation_messages_conversation", table_name="conversation_messages")

    op.drop_table("conversation_messages")
    op.drop_index("ix_conversations_customer", table_name="conversations")

    op.drop_table("conversations")
    op.drop_index("ix_brand_addresses_address", table_name="brand_addresses")

    op.drop_table("brand_addresses")
    op.drop_table("customer_identities")
    op.drop_table("brands")
    op.drop_table("customers")
