"""gold items sealed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 14:00:00

A gold item's personal input fields are kept as an item's are: masked in its payload, the
clear values sealed with the client's key and bound to the gold item (qa_gold_items.sealed).
The table keeps the row-level security policy 0006 gave it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("qa_gold_items", sa.Column("sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("qa_gold_items", "sealed")
