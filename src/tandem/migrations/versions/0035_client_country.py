"""a client's country

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 16:00:00.000000

clients.country (ISO 3166-1 alpha-2, nullable): whose public holidays a process's forecast
sets apart by default (tandem.reports.forecasting), beside the holidays of the client's own
business calendar. An expand migration: a nullable column the previous release ignores.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("country", sa.String(2), nullable=True))


def downgrade() -> None:
    op.drop_column("clients", "country")
