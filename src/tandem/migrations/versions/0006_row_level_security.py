"""row-level security on tenant tables (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:05:00

The second wall behind the application's scoping: in a transaction that names a client
(set_config('tandem.client_id', ...), as tandem.core.db does for a client's user), every tenant
table shows and accepts only that client's rows, and no gold items. Transactions that name
none (provider staff, agents, jobs) see every client. FORCE applies the policies to the
tables' owner too; superusers always bypass row-level security, so run Tandem as an
ordinary role.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "api_keys",
    "agent_clearances",
    "audit_chains",
    "audit_records",
    "batches",
    "decisions",
    "processes",
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION tandem_tenant() RETURNS integer LANGUAGE sql STABLE AS "
        "$$ SELECT NULLIF(current_setting('tandem.client_id', true), '')::integer $$"
    )
    for table in TENANT_TABLES:
        visible = "tandem_tenant() IS NULL OR client_id = tandem_tenant()"
        if table == "work_items":  # gold items are the provider's own test copies
            visible = "tandem_tenant() IS NULL OR (client_id = tandem_tenant() AND NOT gold)"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION tandem_tenant()")
