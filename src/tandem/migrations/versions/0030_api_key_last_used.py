"""when an API key was last used

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 13:00:00.000000

api_keys.last_used_at: written at most every five minutes per key when the key is used
(tandem.tenancy.service.record_key_use), so that an admin can tell a key still in use from one
to revoke.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("last_used_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("api_keys", "last_used_at")
