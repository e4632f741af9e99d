"""ruleset reasons catalogue and who uploaded and published a version

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 09:00:00

The rules define their reasons: a version may carry a catalogue of its reason codes, each
with a label and a description people read instead of the code ({code: {label,
description}}; null: none given, the codes read in words). And who uploaded a version and
who published it (actors as event rows name them: "user:<id>", "api_key:<id>"); null for
versions made before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rulesets") as table:
        table.add_column(
            sa.Column(
                "reasons",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        table.add_column(sa.Column("created_by", sa.String(length=80), nullable=True))
        table.add_column(sa.Column("published_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rulesets") as table:
        table.drop_column("published_by")
        table.drop_column("created_by")
        table.drop_column("reasons")
