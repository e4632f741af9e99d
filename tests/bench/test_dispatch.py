"""The dispatch benchmark's raw-SQL claimer runs the service's own statements: when those
change shape, this fails here rather than in the middle of a benchmark run."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tandem.bench.dispatch import _RawClaimer
from tandem.container import Container
from tandem.core.db import transaction
from tandem.work.models import WorkItem, WorkItemEvent
from tests.conftest import World


@pytest.mark.postgres_only
def test_the_raw_claimer_claims_and_delivers_with_the_service_statements(
    container: Container, world: World, database_url: str
) -> None:
    item = world.submit(container)
    with transaction(container.sessions) as session:
        queues = container.dispatcher.servable(session, world.agent_id)
    claimer = _RawClaimer(database_url.replace("+psycopg", ""), world.agent_id, queues)
    try:
        assert claimer.pair() is not None
        assert claimer.pair() is None  # nothing left
    finally:
        claimer.close()
    with transaction(container.sessions) as session:
        state = session.scalar(select(WorkItem.state).where(WorkItem.id == item.id))
        steps = session.scalars(
            select(WorkItemEvent.to_state)
            .where(WorkItemEvent.work_item_id == item.id)
            .order_by(WorkItemEvent.seq)
        ).all()
    assert state == "delivered"
    assert steps == ["queued", "leased", "submitted", "delivered"]
