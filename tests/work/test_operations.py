"""Operations acting on work, at the owner of work item changes: reprioritize, take a lease
back, lease an item to a named agent, move it to another queue, and one action on a
selection in bulk. Each goes through the lifecycle, writes its events (a change of state
only), and leaves its record on the client's audit chain."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput, LeaseLost
from tandem.dispatch.service import reroute
from tandem.tenancy.models import User
from tandem.tenancy.principal import Principal
from tandem.work import bulk, transitions
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.workforce.models import Agent
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, RESULT, World


def _ops(container: Container) -> Principal:
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == "o@provider.example")).one()
        return Principal(user.id, user.role, None, None)


def _events(container: Container, item_id: uuid.UUID) -> list[Any]:
    with transaction(container.sessions) as session:
        return list(
            session.execute(
                select(
                    WorkItemEvent.from_state,
                    WorkItemEvent.to_state,
                    WorkItemEvent.actor,
                    WorkItemEvent.data,
                )
                .where(WorkItemEvent.work_item_id == item_id)
                .order_by(WorkItemEvent.seq)
            ).all()
        )


def _audit(container: Container, item_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any]]]:
    with transaction(container.sessions) as session:
        return [
            (record.action, record.actor, record.data)
            for record in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.subject == f"work_item:{item_id}")
                .order_by(AuditRecord.seq)
            )
        ]


def _item(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.get_one(WorkItem, {"client_id": _client(session, item_id), "id": item_id})
        session.expunge(item)
        return item


def _client(session: Any, item_id: uuid.UUID) -> int:
    return int(session.scalar(select(WorkItem.client_id).where(WorkItem.id == item_id)))


def _claim(container: Container, agent_id: uuid.UUID, item_id: uuid.UUID) -> int:
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, agent_id)
    assert lease is not None and lease.item_id == item_id
    return lease.attempt


def test_reprioritize_sets_the_priority_on_the_audit_chain_without_an_event(
    container: Container, world: World
) -> None:
    ops = _ops(container)
    item = world.submit(container, "urgent.pdf")
    with container.context(ops) as ctx:
        changed = transitions.reprioritize(ctx, item.id, 7)
    assert changed.priority == 7 and changed.state == "queued" and changed.version == 1
    assert len(_events(container, item.id)) == 1  # its arrival only: no state moved
    assert _audit(container, item.id) == [
        ("work_item.priority", f"user:{ops.user_id}", {"priority": 7, "before": 0})
    ]
    with container.context(ops) as ctx:
        transitions.cancel(ctx, item.id, "sent twice")
    with pytest.raises(Conflict, match="cancelled"), container.context(ops) as ctx:
        transitions.reprioritize(ctx, item.id, 9)
    assert _item(container, item.id).priority == 7


def test_taking_a_lease_back_fences_its_holder_out(container: Container, world: World) -> None:
    ops = _ops(container)
    item = world.submit(container, "stuck.pdf")
    attempt = _claim(container, world.agent_id, item.id)
    with container.context(ops) as ctx:
        back = transitions.take_back(ctx, item.id, "agent went home")
    assert back.state == "queued" and back.lease_owner is None and back.lease_expires_at is None
    last = _events(container, item.id)[-1]
    assert (last.from_state, last.to_state, last.actor) == ("leased", "queued", ops.actor)
    assert last.data == {"reason": "agent went home", "lease_owner": str(world.agent_id)}
    assert _audit(container, item.id)[-1][0] == "work_item.release"
    # The holder's heartbeat and submit name a lease that is gone: the lease protocol's 409.
    with pytest.raises(LeaseLost), transaction(container.sessions) as session:
        container.dispatcher.heartbeat(session, world.agent_id, item.id, attempt)
    with pytest.raises(LeaseLost), transaction(container.sessions) as session:
        container.dispatcher.submit(session, world.agent_id, item.id, attempt, RESULT)
    # Nothing to take back any more.
    with pytest.raises(Conflict, match="not leased"), container.context(ops) as ctx:
        transitions.take_back(ctx, item.id, None)
    # The next claim gets it under a new attempt.
    assert _claim(container, world.agent_id, item.id) == attempt + 1


def test_an_item_is_leased_to_the_named_agent_who_may_serve_its_queue(
    container: Container, world: World
) -> None:
    ops = _ops(container)
    (second,) = world.add_agents(container, 1)
    item = world.submit(container, "for-you.pdf")
    with container.context(ops) as ctx:
        given = container.dispatcher.assign(ctx, item.id, world.agent_id, "knows this client")
    assert given.state == "leased" and given.lease_owner == world.agent_id
    assert given.attempt == 1
    assert given.lease_expires_at == container.clock.now() + timedelta(seconds=60)
    with transaction(container.sessions) as session:
        held = container.dispatcher.held(session, world.agent_id)
        assert [h.id for h in held] == [item.id]
    # To another agent: the first loses the lease, in two steps of one move.
    with container.context(ops) as ctx:
        again = container.dispatcher.assign(ctx, item.id, second, None)
    assert again.lease_owner == second and again.attempt == 2
    steps = [(e.from_state, e.to_state) for e in _events(container, item.id)]
    assert steps[-3:] == [("queued", "leased"), ("leased", "queued"), ("queued", "leased")]
    assert _events(container, item.id)[-1].data == {
        "reason": "assigned by operations",
        "assigned_to": str(second),
        "lease_owner": str(world.agent_id),
    }
    with pytest.raises(LeaseLost), transaction(container.sessions) as session:
        container.dispatcher.heartbeat(session, world.agent_id, item.id, 1)
    # The second agent works it as if they had claimed it.
    with transaction(container.sessions) as session:
        container.dispatcher.heartbeat(session, second, item.id, 2)
        container.dispatcher.submit(session, second, item.id, 2, RESULT)
    assert _item(container, item.id).state == "delivered"
    actions = [action for action, _, _ in _audit(container, item.id)]
    assert actions == ["work_item.assign", "work_item.assign"]


def test_assigning_refuses_agents_who_may_not_work_the_item(
    container: Container, world: World
) -> None:
    ops = _ops(container)
    with transaction(container.sessions) as session:
        retailer_only = session.scalar(select(User.id).where(User.email == "b@provider.example"))
        other = session.scalar(select(Agent.id).where(Agent.user_id == retailer_only))
    assert other is not None
    item = world.submit(container, "picky.pdf")

    def refused(agent_id: uuid.UUID) -> str:
        with pytest.raises(InvalidInput) as caught, container.context(ops) as ctx:
            container.dispatcher.assign(ctx, item.id, agent_id, None)
        (error,) = caught.value.extra["errors"]
        assert error["field"] == "agent_id"
        return str(error["message"])

    assert "may not serve the queue 'keying'" in refused(other)  # not cleared for the insurer
    assert "no active agent" in refused(uuid.uuid4())
    with transaction(container.sessions) as session:  # its first keyer, say
        session.execute(
            update(WorkItem).where(WorkItem.id == item.id).values(excluded_agent_id=world.agent_id)
        )
    assert "someone else's eyes" in refused(world.agent_id)
    with container.context(ops) as ctx:
        transitions.hold(ctx, item.id, "client asked to wait", at_risk_fraction=0.75)
    (second,) = world.add_agents(container, 1)
    with pytest.raises(Conflict, match="resume it first"), container.context(ops) as ctx:
        container.dispatcher.assign(ctx, item.id, second, None)
    assert _item(container, item.id).state == "waiting"


def test_an_item_moves_to_another_queue_of_its_client(container: Container, world: World) -> None:
    ops = _ops(container)
    with transaction(container.sessions) as session:
        define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="claims",
                name="Claims",
                kind="data_entry",
                input_schema=INPUT_SCHEMA,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
    leased = world.submit(container, "b.pdf")
    attempt = _claim(container, world.agent_id, leased.id)
    queued = world.submit(container, "a.pdf")
    with container.context(ops) as ctx:
        moved = reroute(ctx, queued.id, "claims", "misfiled")
    assert moved.routing_key == "claims" and moved.state == "queued"
    assert len(_events(container, queued.id)) == 1
    assert _audit(container, queued.id) == [
        (
            "work_item.reroute",
            ops.actor,
            {"routing_key": "claims", "before": "keying", "reason": "misfiled"},
        )
    ]
    with container.context(ops) as ctx:
        back = reroute(ctx, leased.id, "claims", None)
    assert back.state == "queued" and back.routing_key == "claims" and back.lease_owner is None
    assert _events(container, leased.id)[-1].data["routing_key"] == "claims"
    with pytest.raises(LeaseLost), transaction(container.sessions) as session:
        container.dispatcher.heartbeat(session, world.agent_id, leased.id, attempt)
    for key, message in (("claims", "in this queue already"), ("nowhere", "keying")):
        with pytest.raises(InvalidInput) as caught, container.context(ops) as ctx:
            reroute(ctx, leased.id, key, None)
        (error,) = caught.value.extra["errors"]
        assert error["field"] == "routing_key" and message in error["message"]


def test_one_action_on_a_selection_is_done_or_refused_item_by_item(
    container: Container, world: World
) -> None:
    ops = _ops(container)
    items = [world.submit(container, f"{n}.pdf", external_ref=f"REF-{n}") for n in range(3)]
    with container.context(ops) as ctx:
        transitions.cancel(ctx, items[1].id, "sent twice")
    missing = uuid.uuid4()
    ids = [items[0].id, items[1].id, items[2].id, missing, items[0].id]
    outcomes = bulk.apply(
        lambda: container.context(ops),
        ids,
        bulk.Order("hold", reason="client is checking"),
        at_risk_fraction=0.75,
    )
    assert [(o.id, o.done) for o in outcomes] == [
        (items[0].id, True),
        (items[1].id, False),
        (items[2].id, True),
        (missing, False),
    ]
    assert outcomes[0].external_ref == "REF-0" and outcomes[0].state == "waiting"
    assert outcomes[1].detail == "it is cancelled: it cannot be put on hold"
    assert outcomes[3].detail == f"work item {missing} not found"
    assert outcomes[1].external_ref is None and outcomes[3].state is None
    with transaction(container.sessions) as session:
        holds = session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "work_item.hold")
        )
    assert holds == 2
    for order, field in (
        (bulk.Order("cancel", reason="  "), "reason"),
        (bulk.Order("priority"), "priority"),
        (bulk.Order("priority", priority=5000), "priority"),
    ):
        with pytest.raises(InvalidInput) as caught:
            bulk.apply(lambda: container.context(ops), ids, order, at_risk_fraction=0.75)
        assert caught.value.extra["errors"][0]["field"] == field
    with pytest.raises(InvalidInput):
        bulk.apply(
            lambda: container.context(ops),
            [uuid.uuid4() for _ in range(bulk.MAX_ITEMS + 1)],
            bulk.Order("resume"),
            at_risk_fraction=0.75,
        )
