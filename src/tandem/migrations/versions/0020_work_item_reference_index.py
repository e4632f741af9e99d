"""work items found by the client's reference

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 06:30:00

Clients look their items up by their own reference (the API's ?external_ref=, the portal's
find page): without an index that read every item of the client, a million at a time. Partial:
items handed over without a reference cost no entry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_REFERENCE = "external_ref IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_work_items_reference",
        "work_items",
        ["client_id", "external_ref"],
        postgresql_where=sa.text(WITH_REFERENCE),
        sqlite_where=sa.text(WITH_REFERENCE),
    )


def downgrade() -> None:
    op.drop_index("ix_work_items_reference", table_name="work_items")
