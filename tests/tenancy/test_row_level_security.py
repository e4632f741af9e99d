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
