"""the service desk's satisfaction surveys

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 12:00:00.000000

A conversation solved asks its customer how we did (tandem.servicedesk.surveys): one row per
solve, with the brand and the agent credited (who wrote the last reply), the SHA-256 of the
survey's link (looked up before the tenant is known: its index is not the client's), when it
was sent and expires, and the answer: good or bad (Zendesk's CSAT: one tap, read alike in
every language, and the satisfied share is good / answered, with no line to draw on a 1-5
scale), and a comment, masked, its clear value sealed with the client's key as messages'
are. At most one survey of a conversation stands (not withdrawn): one answer per
conversation. A tenant table with the row-level security policy of the others on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "conversation_surveys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("solved_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("sent_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.String(length=4), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('due', 'sent', 'answered', 'withdrawn')",
            name=op.f("ck_conversation_surveys_survey_state"),
        ),
        sa.CheckConstraint(
            "rating IN ('good', 'bad')", name=op.f("ck_conversation_surveys_survey_rating")
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "conversation_id"],
            ["conversations.client_id", "conversations.id"],
            name=op.f("fk_conversation_surveys_client_id_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "brand_id"],
            ["brands.client_id", "brands.id"],
            name=op.f("fk_conversation_surveys_client_id_brand_id_brands"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
            name=op.f("fk_conversation_surveys_client_id_message_id_conversation_messages"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_conversation_surveys")),
    )
    op.create_index(
        "uq_conversation_surveys_standing",
        TABLE,
        ["client_id", "conversation_id"],
        unique=True,
        postgresql_where=sa.text("state <> 'withdrawn'"),
        sqlite_where=sa.text("state <> 'withdrawn'"),
    )
    op.create_index("ix_conversation_surveys_token_hash", TABLE, ["token_hash"], unique=False)
    op.create_index(
        "ix_conversation_surveys_due",
        TABLE,
        ["solved_at"],
        unique=False,
        postgresql_where=sa.text("state = 'due'"),
        sqlite_where=sa.text("state = 'due'"),
    )
    op.create_index("ix_conversation_surveys_sent", TABLE, ["client_id", "sent_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # The tenant read once per query, as 0017 made every tenant policy do.
        visible = "(SELECT tandem_tenant()) IS NULL OR client_id = (SELECT tandem_tenant())"
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {TABLE} USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    # The policy and the table's security go with the table.
    op.drop_index("ix_conversation_surveys_sent", table_name=TABLE)
    op.drop_index("ix_conversation_surveys_due", table_name=TABLE)
    op.drop_index("ix_conversation_surveys_token_hash", table_name=TABLE)
    op.drop_index("uq_conversation_surveys_standing", table_name=TABLE)
    op.drop_table(TABLE)
