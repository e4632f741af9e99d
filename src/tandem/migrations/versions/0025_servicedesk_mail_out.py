"""the service desk's mail out: the outbox and every attempt

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 08:10:00.000000

Replies to customers wait in an outbox (conversation_mail_out), written with the reply, and
every try to hand one to the relay is recorded (conversation_mail_attempts). A message
names who wrote a reply or a note (conversation_messages.author). Both are tenant
tables: on PostgreSQL each gets the row-level security policy of the others (as 0024).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = ("conversation_mail_out", "conversation_mail_attempts")


def upgrade() -> None:
    op.add_column("conversation_messages", sa.Column("author", sa.String(length=60), nullable=True))
    op.create_table(
        "conversation_mail_out",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')",
            name=op.f("ck_conversation_mail_out_mail_status"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "conversation_id"],
            ["conversations.client_id", "conversations.id"],
            name=op.f("fk_conversation_mail_out_client_id_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
            name=op.f("fk_conversation_mail_out_client_id_message_id_conversation_messages"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_conversation_mail_out")),
        sa.UniqueConstraint(
            "client_id", "message_id", name=op.f("uq_conversation_mail_out_client_id_message_id")
        ),
    )
    op.create_index(
        "ix_conversation_mail_out_due",
        "conversation_mail_out",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "conversation_mail_attempts",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "mail_id"],
            ["conversation_mail_out.client_id", "conversation_mail_out.id"],
            name=op.f("fk_conversation_mail_attempts_client_id_mail_id_conversation_mail_out"),
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "mail_id", "number", name=op.f("pk_conversation_mail_attempts")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
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
    op.drop_table("conversation_mail_attempts")
    op.drop_index("ix_conversation_mail_out_due", table_name="conversation_mail_out")
    op.drop_table("conversation_mail_out")
    op.drop_column("conversation_messages", "author")
