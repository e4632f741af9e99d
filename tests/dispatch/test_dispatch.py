"""The lease protocol against the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput, LeaseLost, NotFound
from tandem.dispatch.service import Dispatcher, Lease
from tandem.intake.service import submit_item
from tandem.work.models import WorkItem, WorkItemEvent
from tests.conftest import RESULT, World


def _submit(container: Container, world: World, n: int = 1, **kw: Any) -> list[uuid.UUID]:
    ids = []
    with container.context(world.client_user) as ctx:
        for i in range(n):
            item, _ = submit_item(
                ctx,
                world.process_id,
                {"document_ref": f"doc-{i}"},
                at_risk_fraction=0.75,
                **kw,
            )
            ids.append(item.id)
    return ids


def _claim(container: Container, agent: uuid.UUID) -> Lease | None:
    with transaction(container.sessions) as session:
        return container.dispatcher.claim(session, agent)


def _state(container: Container, item_id: uuid.UUID) -> str:
    with transaction(container.sessions) as session:
        return str(session.scalar(select(WorkItem.state).where(WorkItem.id == item_id)))


def test_claim_order_is_due_time_then_priority_then_age(
    container: Container, world: World, clock: ManualClock
) -> None:
    first = _submit(container, world)[0]
    clock.advance(timedelta(minutes=1))
    later_but_urgent = _submit(container, world, priority=50)[0]
    clock.advance(timedelta(minutes=1))
    newest = _submit(container, world)[0]
    with transaction(container.sessions) as session:  # make the newest one due first
        item = session.scalar(select(WorkItem).where(WorkItem.id == newest))
        assert item is not None
        item.due_at -= timedelta(hours=1)
    order = [
        lease.item_id for lease in (_claim(container, world.agent_id) for _ in range(3)) if lease
    ]
    assert order[0] == newest
    # same due time? the urgent one (higher priority) goes before the older one
    assert set(order[1:]) == {first, later_but_urgent}


def test_same_due_time_goes_by_priority_then_age(
    container: Container, world: World, clock: ManualClock
) -> None:
    # Items arriving outside business hours (a Saturday) all get the same due time.
    clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    ids = []
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        ids += _submit(container, world)
    urgent = _submit(container, world, priority=9)[0]
    with transaction(container.sessions) as session:
        due = {
            session.scalar(select(WorkItem.due_at).where(WorkItem.id == i)) for i in [*ids, urgent]
        }
    assert len(due) == 1
    order = [
        lease.item_id for lease in (_claim(container, world.agent_id) for _ in range(4)) if lease
    ]
    assert order[0] == urgent and order[1:] == ids


def test_only_eligible_agents_get_items(
    container: Container, world: World, clock: ManualClock
) -> None:
    _submit(container, world, n=2)
    novice = world.add_agents(container, 1, skill_level=1)[0]
    assert _claim(container, novice) is None  # skill below the required level
    with transaction(container.sessions) as session:
        from tests.conftest import _agent

        uncleared = _agent(session, [world.other_client_id])
        # Manila shift 09:00-18:00 on Wednesdays; T0 is Wed 23:00 in Manila.
        off_shift = _agent(session, [world.client_id], shifts=[(2, 9 * 60, 540)])
        night = _agent(session, [world.client_id], shifts=[(2, 22 * 60, 240)])  # past midnight
    assert _claim(container, uncleared) is None
    assert _claim(container, off_shift) is None
    assert _claim(container, night) is not None
    clock.advance(timedelta(hours=2))  # Thursday 01:00 in Manila, still in the shift
    container.dispatcher.forget_agent(night)
    assert _claim(container, night) is not None


def test_submit_delivers_and_checks_the_form(container: Container, world: World) -> None:
    item_id = _submit(container, world)[0]
    lease = _claim(container, world.agent_id)
    assert lease is not None and lease.item_id == item_id and lease.attempt == 1
    with pytest.raises(InvalidInput) as bad, transaction(container.sessions) as session:
        container.dispatcher.submit(session, world.agent_id, item_id, 1, {"applicant_name": "X"})
    assert {e["field"] for e in bad.value.extra["errors"]} == {"applicant_name", "coverage_amount"}
    assert _state(container, item_id) == "leased"
    with transaction(container.sessions) as session:
        container.dispatcher.submit(session, world.agent_id, item_id, 1, RESULT)
    assert _state(container, item_id) == "delivered"
    with transaction(container.sessions) as session:
        states = session.scalars(
            select(WorkItemEvent.to_state)
            .where(WorkItemEvent.work_item_id == item_id)
            .order_by(WorkItemEvent.seq)
        ).all()
    assert states == ["queued", "leased", "submitted", "delivered"]


def test_expired_lease_is_reaped_and_the_stale_holder_is_refused(
    container: Container, world: World, clock: ManualClock
) -> None:
    item_id = _submit(container, world)[0]
    first = _claim(container, world.agent_id)
    assert first is not None
    with transaction(container.sessions) as session:
        container.dispatcher.heartbeat(session, world.agent_id, item_id, first.attempt)
    clock.advance(timedelta(seconds=61))
    with transaction(container.sessions) as session:
        assert container.dispatcher.reap(session) == 1
    assert _state(container, item_id) == "queued"
    other = world.add_agents(container, 1)[0]
    second = _claim(container, other)
    assert second is not None and second.item_id == item_id and second.attempt == 2
    for call in (
        lambda s: container.dispatcher.heartbeat(s, world.agent_id, item_id, 1),
        lambda s: container.dispatcher.submit(s, world.agent_id, item_id, 1, RESULT),
        lambda s: container.dispatcher.release(s, world.agent_id, item_id, 1),
    ):
        with pytest.raises(LeaseLost), transaction(container.sessions) as session:
            call(session)
    # Someone who never held it learns nothing: 404.
    stranger = world.add_agents(container, 1)[0]
    with pytest.raises(NotFound), transaction(container.sessions) as session:
        container.dispatcher.submit(session, stranger, item_id, 2, RESULT)
    with transaction(container.sessions) as session:
        container.dispatcher.submit(session, other, item_id, 2, RESULT)
    assert _state(container, item_id) == "delivered"


def test_release_puts_the_item_back(container: Container, world: World) -> None:
    item_id = _submit(container, world)[0]
    lease = _claim(container, world.agent_id)
    assert lease is not None
    with transaction(container.sessions) as session:
        container.dispatcher.release(session, world.agent_id, item_id, lease.attempt, "break")
    again = _claim(container, world.agent_id)
    assert again is not None and again.item_id == item_id and again.attempt == 2


def test_dispatch_over_http(api: Any, world: World, container: Container) -> None:
    item_id = str(_submit(container, world)[0])
    assert api("agent").get("/api/v1/dispatch/queues").json() == [
        {"client_id": world.client_id, "routing_key": "keying"},
        {"client_id": world.other_client_id, "routing_key": "keying"},
    ]
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == item_id and lease["payload"] == {"document_ref": "doc-0"}
    assert api("agent").post("/api/v1/dispatch/claim").status_code == 204
    hb = api("agent").post(f"/api/v1/leases/{item_id}/heartbeat", json={"attempt": 1})
    assert hb.status_code == 200
    bad = api("agent").post(f"/api/v1/leases/{item_id}/submit", json={"attempt": 1, "result": {}})
    assert bad.status_code == 422
    done = api("agent").post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": 1, "result": RESULT}
    )
    assert done.json() == {"item_id": item_id, "state": "delivered"}
    assert (
        api("agent")
        .post(f"/api/v1/leases/{item_id}/submit", json={"attempt": 1, "result": RESULT})
        .status_code
        == 409
    )
    status = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert status["state"] == "delivered" and status["result"] == RESULT
    assert api("client").post("/api/v1/dispatch/claim").status_code == 403


def test_second_dispatcher_instance_sees_the_same_queue(container: Container, world: World) -> None:
    """Two server processes share nothing but the database."""
    _submit(container, world, n=2)
    other = Dispatcher(container.clock, container.keyring, lease_seconds=60)
    with transaction(container.sessions) as session:
        a = container.dispatcher.claim(session, world.agent_id)
    with transaction(container.sessions) as session:
        b = other.claim(session, world.agent_id)
    assert a and b and a.item_id != b.item_id
