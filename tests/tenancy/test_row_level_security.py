"""PostgreSQL's row-level security, the second wall: with the application's scoping
bypassed (raw SQL in a transaction that names client A), no row of client B comes back or
goes in, gold items stay hidden, and nothing carries over on a pooled connection."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tandem.container import Container
from tandem.core.db import TENANT, transaction
from tandem.work.models import WorkItem
from tests.conftest import World

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def ordinary(container: Container) -> None:
    """The suite connects as an ordinary role (tests/conftest.py): superusers bypass RLS."""
    with container.engine.connect() as conn:
        assert not conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


def _clients_seen(conn: Connection, table: str) -> set[int]:
    return set(conn.scalars(text(f"SELECT DISTINCT client_id FROM {table}")))


def _seed(container: Container, world: World) -> None:
    world.submit(container, "insurer-1")
    with container.context(world.other_client_user) as ctx:
        from tandem.intake.service import submit_item

        submit_item(
            ctx,
            world.other_process_id,
            {"document_ref": "retailer-1"},
            at_risk_fraction=0.75,
        )
    gold = world.submit(container, "insurer-gold")
    with transaction(container.sessions) as session:
        session.get_one(WorkItem, (gold.client_id, gold.id)).gold = True


def test_a_transaction_naming_a_client_sees_and_writes_only_that_client(
    container: Container, world: World, ordinary: None
) -> None:
    _seed(container, world)
    with container.engine.connect() as conn, conn.begin():
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        for table in ("work_items", "work_item_events", "processes"):
            assert _clients_seen(conn, table) == {world.client_id}, table
        refs = set(conn.scalars(text("SELECT payload->>'document_ref' FROM work_items")))
        assert refs == {"insurer-1"}  # the gold copy is hidden too
    with (
        pytest.raises(DBAPIError, match="row-level security"),
        container.engine.connect() as conn,
        conn.begin(),
    ):
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        conn.execute(
            text(
                "INSERT INTO batches (client_id, id, process_id, filename, file_format, mode,"
                " rows_total, rows_accepted, rows_rejected, errors, created_at)"
                " VALUES (:c, gen_random_uuid(), :p, 'x.csv', 'csv', 'accept_valid',"
                " 0, 0, 0, '[]', now())"
            ),
            {"c": world.other_client_id, "p": world.other_process_id},
        )


def test_the_application_names_the_client_per_transaction_and_pooled_connections_forget(
    container: Container, world: World, ordinary: None
) -> None:
    _seed(container, world)
    token = TENANT.set(world.other_client_id)
    try:
        with container.engine.begin() as conn:  # as a client user's request would
            assert _clients_seen(conn, "work_items") == {world.other_client_id}
    finally:
        TENANT.reset(token)
    # The same pool, next transaction, no client named: the setting did not survive.
    with container.engine.begin() as conn:
        assert conn.scalar(text("SELECT tandem_tenant()")) is None
        assert _clients_seen(conn, "work_items") == {world.client_id, world.other_client_id}


# `users` holds client_id but is read before anyone is known (sign-in): the application
# scopes it, as it does every table.
NOT_TENANT_SCOPED = {"users"}


def test_every_table_holding_client_data_has_the_tenant_policy_read_once_per_query(
    container: Container, ordinary: None
) -> None:
    """A new table with a client_id and no policy would be the one wall missing; a policy
    calling tandem_tenant() per row made a client's console 5 times slower (migration 0017)."""
    with container.engine.connect() as conn:
        tables = set(
            conn.scalars(
                text(
                    "SELECT table_name FROM information_schema.columns"
                    " WHERE column_name = 'client_id' AND table_schema = current_schema()"
                )
            )
        )
        policies = dict(
            conn.execute(
                text(
                    "SELECT p.tablename, p.qual FROM pg_policies p"
                    " JOIN pg_class c ON c.relname = p.tablename AND c.relforcerowsecurity"
                    " WHERE p.policyname = 'tenant_isolation'"
                    " AND p.qual = p.with_check AND p.schemaname = current_schema()"
                )
            ).all()
        )
        parallel = conn.scalar(
            text("SELECT proparallel FROM pg_proc WHERE proname = 'tandem_tenant'")
        )
    assert tables - NOT_TENANT_SCOPED - set(policies) == set()
    per_row = {table for table, qual in policies.items() if "( SELECT tandem_tenant()" not in qual}
    assert per_row == set()
    assert parallel == "s"


def test_a_clients_delivered_kpi_reads_the_index_alone_under_the_policy(
    container: Container, world: World, ordinary: None
) -> None:
    """The portal's delivered KPI stays an index-only scan when the policy applies: the
    policy's `gold` is in the index, and its tenant is an InitPlan, not a per-row call."""
    _seed(container, world)
    with container.engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        conn.execute(text("SET LOCAL enable_indexscan = off"))  # only if nothing else can
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        plan = "\n".join(
            conn.scalars(
                text(
                    "EXPLAIN SELECT process_id, count(*) FROM work_items"
                    " WHERE client_id = :c AND state = 'delivered' AND NOT gold"
                    " AND delivered_at >= now() - interval '30 days'"
                    " AND delivered_at <= due_at GROUP BY process_id"
                ),
                {"c": world.client_id},
            )
        )
    assert "Index Only Scan using ix_work_items_delivered" in plan, plan
    assert "InitPlan" in plan, plan


def test_a_clients_delivered_items_by_delivery_time_are_read_from_the_delivered_index(
    container: Container, world: World, ordinary: None
) -> None:
    """The find page's 'delivered latest' as the application asks it: its conditions must
    let PostgreSQL prove the delivered index's predicate (`NOT gold`, not `gold IS false`),
    or a page of a client's delivered items scans all of them."""
    from sqlalchemy import select as select_

    from tandem.work.access import visible
    from tandem.work.queries import _order, _sorted_by

    _seed(container, world)
    query = (
        select_(WorkItem)
        .where(visible(world.client_user, container.clock.now()), *_sorted_by("-delivered"))
        .order_by(*_order("-delivered"))
        .limit(50)
    )
    sql = str(query.compile(container.engine, compile_kwargs={"literal_binds": True}))
    with container.engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        plan = "\n".join(conn.scalars(text(f"EXPLAIN {sql}")))
    assert "ix_work_items_delivered" in plan, plan
