"""results sealed

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 14:10:00

An item's result is kept as its input is: the personal fields of the process's result form
masked in `work_items.result`, their clear values sealed with the client's key and bound to
the item and its result (`work_items.result_sealed`); so is each keying of a double-entry
item (`qa_keyings.sealed`), a gold item's known answer (`qa_gold_items.answer_sealed`) and
the result a webhook event waits to send (`webhook_deliveries.result_sealed`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("work_items", sa.Column("result_sealed", sa.Text(), nullable=True))
    op.add_column("qa_keyings", sa.Column("sealed", sa.Text(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("result_sealed", sa.Text(), nullable=True))
    op.add_column("qa_gold_items", sa.Column("answer_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("qa_gold_items", "answer_sealed")
    op.drop_column("webhook_deliveries", "result_sealed")
    op.drop_column("qa_keyings", "sealed")
    op.drop_column("work_items", "result_sealed")
