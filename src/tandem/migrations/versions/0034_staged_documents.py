"""documents handed over ahead of their items (staged documents)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 15:00:00.000000

Issue 16's "by reference": a client hands its documents over first, one at a time
(POST /api/v1/processes/{id}/documents), then a file of items (or one item) naming them.

Where they live: in `documents` itself, not a table of their own. A staged document is a
document in every way that matters to custody: checked by content the same way, sealed with
the client's key under its own id the same way, re-sealed by a key rotation, handed back at
the client's exit and erased with it. One table means one `store`, one re-seal walk, one
export and one erase, all already written and tested (tandem.documents.service,
tandem.custody), and attaching one to its item is an UPDATE of one row in the intake's
transaction: no bytes copied, no re-sealing (the seal is bound to the document's id, which
does not change). A table of its own would have needed every one of those paths twice.

So `work_item_id` becomes nullable, and two columns say what a staged row is:
`staged_for` (the process it was handed over to; a foreign key with client_id first) and
`staged_until` (when the purge takes it if no item did). A check constraint keeps each row
exactly one of the two: an item's (item set, staged columns null) or staged (item null,
staged columns set). The invariant the workbench relies on stays: a document shown is found
by its item (`documents.of_item`), the (client_id, work_item_id) unique key gives an item at
most one document, a staged row has no item so no page ever shows it, and an item's row
never becomes staged again (attaching clears the staged columns; nothing sets them back).
NULLs are distinct in the unique key on both databases, so any number of staged rows fit.

The index (client_id, staged_until) serves the two questions asked of staged rows: how many
bytes a client keeps staged (its cap), and which are past their time (the worker's purge,
client by client). The row-level security policy of 0019 covers staged rows as any others.
On SQLite the constraint changes rebuild the table (batch mode); on PostgreSQL they are
ALTERs in place (the content column keeps its EXTERNAL storage).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEM_OR_STAGED = (
    "(work_item_id IS NOT NULL AND staged_for IS NULL AND staged_until IS NULL) OR "
    "(work_item_id IS NULL AND staged_for IS NOT NULL AND staged_until IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staged_for", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("staged_until", tandem.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("work_item_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_client_id_staged_for_processes"),
            "processes",
            ["client_id", "staged_for"],
            ["client_id", "id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_documents_item_or_staged"), sa.text(ITEM_OR_STAGED)
        )
        batch_op.create_index(
            "ix_documents_client_id_staged_until", ["client_id", "staged_until"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM documents WHERE work_item_id IS NULL")  # staged: no item to keep
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_client_id_staged_until")
        batch_op.drop_constraint(batch_op.f("ck_documents_item_or_staged"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_documents_client_id_staged_for_processes"), type_="foreignkey"
        )
        batch_op.alter_column("work_item_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("staged_until")
        batch_op.drop_column("staged_for")
