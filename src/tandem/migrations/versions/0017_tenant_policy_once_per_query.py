"""tenant policies evaluated once per query (PostgreSQL)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 05:40:00

The tenant policies of 0006 and 0008 called `tandem_tenant()` on every row, and the function
was not parallel safe, so a client's console queries ran row by row in one process: the
portal's delivered KPI took 827 ms at a million items instead of 160. Wrapped in a scalar
subquery, the setting is read once per query (an InitPlan); marked PARALLEL SAFE, the
function no longer forbids parallel plans; and `gold`, which the work items' policy reads,
is carried by the delivered index so that its KPI stays an index-only scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table 0006 and 0008 gave the policy `tenant_isolation`.
TENANT_TABLES = (
    "agent_clearances",
    "api_keys",
    "audit_chains",
    "audit_records",
    "batches",
    "decisions",
    "key_rotations",
    "processes",
    "purge_reports",
    "qa_agent_states",
    "qa_alerts",
    "qa_field_checks",
    "qa_gold_copies",
    "qa_gold_items",
    "qa_gold_seeding",
    "qa_keyings",
    "qa_review_requests",
    "qa_reviews",
    "ruleset_tests",
    "rulesets",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_subscriptions",
    "work_item_events",
    "work_items",
)
DELIVERED = "state = 'delivered' AND NOT gold"


def visible(table: str, tenant: str) -> str:
    """Which rows a transaction sees: all when it names no client, else that client's (and,
    of work items, none of the provider's gold copies)."""
    if table == "work_items":
        return f"{tenant} IS NULL OR (client_id = {tenant} AND NOT gold)"
    return f"{tenant} IS NULL OR client_id = {tenant}"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER FUNCTION tandem_tenant() PARALLEL SAFE")
    for table in TENANT_TABLES:
        rows = visible(table, "(SELECT tandem_tenant())")
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING ({rows}) WITH CHECK ({rows})")
    _delivered_index(include=["process_id", "received_at", "due_at", "gold"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _delivered_index(include=["process_id", "received_at", "due_at"])
    for table in TENANT_TABLES:
        rows = visible(table, "tandem_tenant()")
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING ({rows}) WITH CHECK ({rows})")
    op.execute("ALTER FUNCTION tandem_tenant() PARALLEL UNSAFE")


def _delivered_index(include: list[str]) -> None:
    op.drop_index("ix_work_items_delivered", table_name="work_items")
    op.create_index(
        "ix_work_items_delivered",
        "work_items",
        ["client_id", "delivered_at"],
        postgresql_include=include,
        postgresql_where=sa.text(DELIVERED),
    )
