"""console KPI indexes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:40:00

What the client portal reads besides its items, once the console benchmark seeds it (a
million items with their files, decisions and QA reviews): its straight-through rate (the
rules' decisions of a period, by time, carrying their outcome: an index-only range scan
instead of a scan of every decision), its accuracy (the field checks of a period, now carrying
whether each passed, so that the index answers alone), and its list of files (a client's
latest batches, newest first: the portal refreshes it every few seconds while files are open).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BY_RULES = "by = 'rules'"


def upgrade() -> None:
    op.create_index(
        "ix_decisions_rules_at",
        "decisions",
        ["client_id", "at"],
        postgresql_include=["outcome"],
        postgresql_where=sa.text(BY_RULES),
        sqlite_where=sa.text(BY_RULES),
    )
    op.create_index("ix_batches_created", "batches", ["client_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_qa_field_checks_at", table_name="qa_field_checks")
        op.create_index(
            "ix_qa_field_checks_at",
            "qa_field_checks",
            ["client_id", "at"],
            postgresql_include=["passed"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_qa_field_checks_at", table_name="qa_field_checks")
        op.create_index("ix_qa_field_checks_at", "qa_field_checks", ["client_id", "at"])
    op.drop_index("ix_batches_created", table_name="batches")
    op.drop_index("ix_decisions_rules_at", table_name="decisions")
