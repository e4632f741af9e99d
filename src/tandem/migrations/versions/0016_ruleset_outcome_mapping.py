"""ruleset outcome mapping

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 04:05:00

A ruleset's outcome mapping (tandem.decisions.evaluator.Mapping), for rules that do not speak
Tandem's words: expressions over the graph's result for the outcome, the reasons and the
recommendation, and the result's paths delivered with the outcome. Null: the result's own
`outcome`, `reasons` and `recommendation` are read, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rulesets") as table:
        table.add_column(
            sa.Column(
                "mapping",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rulesets") as table:
        table.drop_column("mapping")
