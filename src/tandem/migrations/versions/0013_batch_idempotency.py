"""batch idempotency

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:00:00

A file handed over with an `Idempotency-Key` keeps the key and the file's SHA-256 on its
batch: a retry of the same file with the same key answers with that batch instead of queuing
the file again; another file under the same key is refused (409).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("file_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_batches_idempotency_key",
            ["client_id", "idempotency_key"],
            unique=True,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("uq_batches_idempotency_key")
        batch_op.drop_column("file_sha256")
        batch_op.drop_column("idempotency_key")
