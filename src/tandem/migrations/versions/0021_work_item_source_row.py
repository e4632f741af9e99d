"""the row of the client's file a work item came from

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:10:00

A file's results are matched to the client's rows by the row's number as well as by the
client's reference (which a file need not have): each item of a file keeps it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("work_items", sa.Column("source_row", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Not in batch mode: SQLite drops the column in place (a batch would rebuild the table,
    # and its indexes without their DESC).
    op.drop_column("work_items", "source_row")
