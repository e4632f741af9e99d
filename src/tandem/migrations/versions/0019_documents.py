"""documents

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 05:40:00

The documents handed over with work items (issue 16): one per item, its bytes sealed with the
client's key (tandem.documents). A tenant table: on PostgreSQL it gets the row-level security
policy of the others (as 0006 and 0008 give it, in the form 0017 gave them: the tenant read
once per query), and its sealed bytes are stored without compression (ciphertext does not
compress: PostgreSQL would try, on every row, in vain).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = ("documents",)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_item_id", sa.Uuid(), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Double(), nullable=False),
        sa.Column("height", sa.Double(), nullable=False),
        sa.Column("sealed_with", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "work_item_id"],
            ["work_items.client_id", "work_items.id"],
            name=op.f("fk_documents_client_id_work_item_id_work_items"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "client_id", "work_item_id", name=op.f("uq_documents_client_id_work_item_id")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE documents ALTER COLUMN content SET STORAGE EXTERNAL")
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
    # The policy and the table's security go with the table.
    op.drop_table("documents")
