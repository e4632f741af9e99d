"""The hot path's statements are built once; SQLAlchemy must also compile them only once."""

from __future__ import annotations

import pytest
from sqlalchemy import Executable, text

from tandem.container import Container
from tandem.delivery import outbox
from tandem.work import statements
from tandem.work.statements import claim_postgres, claim_sqlite
from tests.conftest import World


@pytest.mark.parametrize(
    "statement",
    [
        claim_postgres(4),
        claim_sqlite(3),
        statements.SUBMIT,
        statements.HEARTBEAT,
        statements.INSERT_EVENTS,
        statements.INSERT_SUBMIT_EVENTS,
        outbox._ACTIVE_SUBSCRIPTIONS,
    ],
)
def test_statement_is_cacheable(statement: Executable) -> None:
    """A construct SQLAlchemy cannot cache (a VALUES list, say) is compiled on every call:
    tried once for the submit, it more than doubled its Python time."""
    assert statement._generate_cache_key() is not None  # type: ignore[attr-defined]


@pytest.mark.postgres_only
def test_the_claim_keeps_one_generic_plan(container: Container, world: World) -> None:
    """Once prepared, PostgreSQL must reuse the claim's generic plan instead of planning it
    again on every call (a bound LIMIT made it re-plan: 0.9 ms of server CPU a claim)."""
    for n in range(20):
        world.submit(container, f"scan-{n}")
    with container.engine.begin() as connection:  # a queue of 20,000, as the planner sees it
        connection.execute(
            text(
                "INSERT INTO work_items (client_id, id, process_id, state, version, priority,"
                " routing_key, received_at, due_at, at_risk_at, at_risk, breached, attempt,"
                " payload, updated_at) "
                "SELECT client_id, gen_random_uuid(), process_id, state, version, priority,"
                " routing_key, received_at, due_at + n * interval '1 second', at_risk_at,"
                " at_risk, breached, attempt, payload, updated_at "
                "FROM work_items, generate_series(1, 1000) AS n"
            )
        )
        connection.execute(text("ANALYZE work_items"))
    # One connection throughout: prepared statements belong to a connection, and the pool
    # hands out its idle connections in turn.
    with container.engine.connect() as connection:
        for _ in range(30):  # psycopg prepares at the 6th, PostgreSQL plans 5 custom first
            container.dispatcher.claim(connection, world.agent_id)
        plans = connection.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%FOR UPDATE OF w SKIP LOCKED%'"
            )
        ).all()
    assert plans, "the claim was never prepared"
    assert sum(generic for generic, _ in plans) > sum(custom for _, custom in plans)
