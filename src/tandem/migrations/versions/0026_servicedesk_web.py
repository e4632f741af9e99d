"""the service desk on the web: a conversation's link, and the JSON channel's idempotency

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 09:00:00.000000

A conversation begun on the web (a brand's contact form, the client's own site or app)
keeps the SHA-256 of the customer's link (conversations.link_hash, looked up before the
tenant is known: its index is not the client's); one begun through the JSON channel keeps
the client's Idempotency-Key, the request's fingerprint and the client's own reference. No
new table: conversations keep their row-level security policy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("link_hash", 64),
    ("idempotency_key", 200),
    ("request_hash", 64),
    ("external_id", 200),
)
UNIQUE = "uq_conversations_client_id_idempotency_key"


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("conversations", sa.Column(name, sa.String(length=length), nullable=True))
    op.create_index("ix_conversations_link_hash", "conversations", ["link_hash"], unique=False)
    # A unique index (SQLite adds no constraint to a table in place); NULLs do not collide.
    op.create_index(UNIQUE, "conversations", ["client_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index(UNIQUE, table_name="conversations")
    op.drop_index("ix_conversations_link_hash", table_name="conversations")
    for name, _ in reversed(COLUMNS):
        op.drop_column("conversations", name)
