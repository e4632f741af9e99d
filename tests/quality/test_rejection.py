"""The client's rejection of a delivered result: the redo runs on a clock of its own (the
process's rework target from the rejection, not the first due time), and the client's SLA
attainment counts the first delivery as it was, once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.quality import rejection, reviews
from tandem.reports.kpis import Kpis, client_kpis
from tandem.sla.calendar import BusinessCalendar
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import escalate
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, RESULT, World
from tests.quality.conftest import Person, work

FRACTION = 0.75
reject = partial(rejection.reject_delivered, at_risk_fraction=FRACTION)
# The insurer's calendar: its keying process's 240 minutes are business minutes.
NEW_YORK = BusinessCalendar.office_hours("America/New_York")


def _item(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


def _sweep(container: Container) -> tuple[int, int]:
    """The worker's SLA pass: (marked at risk, marked breached)."""
    with transaction(container.sessions) as session:
        return escalate(session, container.clock.now(), 5)


def _kpis(container: Container, world: World) -> Kpis:
    with container.context(world.client_user) as ctx:  # as the portal reads them
        return client_kpis(ctx, world.client_id, period=timedelta(days=30))


def _rework_target(container: Container, world: World, minutes: int | None) -> None:
    with transaction(container.sessions) as session:
        process = session.get_one(Process, (world.client_id, world.process_id))
        process.rework_sla_minutes = minutes


def _redo(container: Container, world: World, reviewer: Person) -> None:
    """The agent redoes the item and a reviewer passes it: redone work is reviewed."""
    redone = work(container, world.agent_id, RESULT)
    assert redone.state is State.IN_REVIEW
    with container.context(reviewer.principal) as ctx:
        reviews.review(
            ctx, redone.id, lease=container.dispatcher.lease, verdict="deliver", failures=[]
        )
    assert _item(container, redone.id).state == "delivered"


def test_a_rejected_item_is_due_the_rework_target_from_now_and_not_breached(
    container: Container, world: World, clock: ManualClock, person: Any
) -> None:
    _rework_target(container, world, 120)
    world.submit(container)
    first = work(container, world.agent_id, RESULT)  # at once: on time
    delivered = _item(container, first.id)
    assert delivered.state == "delivered" and delivered.delivered_at is not None
    assert delivered.delivered_at <= delivered.due_at
    # The client looks the next day: the first due time is long past.
    rejected_at = clock.advance(timedelta(days=1))
    assert _kpis(container, world).on_time == 1
    with container.context(world.client_user) as ctx:
        item = reject(ctx, first.id, reason="coverage should be 250,000")
    assert item.state == "queued"
    assert item.due_at == NEW_YORK.add(rejected_at, timedelta(minutes=120))
    assert item.at_risk_at == NEW_YORK.add(rejected_at, timedelta(minutes=90))
    assert item.due_at > rejected_at
    assert (item.at_risk, item.breached) == (False, False)
    assert (item.first_delivered_at, item.first_due_at) == (
        delivered.delivered_at,
        delivered.due_at,
    )
    # The SLA sweep does not find it breached, nor at risk: the redo's clock has just begun.
    assert _sweep(container) == (0, 0)
    swept = _item(container, first.id)
    assert (swept.at_risk, swept.breached, swept.priority) == (False, False, 0)
    assert _kpis(container, world).breached == 0
    # Redone after the first due time but within the rework target, and delivered again:
    # counted once, on time as its first delivery was.
    clock.advance(timedelta(minutes=30))
    _redo(container, world, person("qa_reviewer"))
    kpis = _kpis(container, world)
    assert (kpis.delivered, kpis.on_time, kpis.breached) == (1, 1, 0)
    redelivered = _item(container, first.id)
    assert redelivered.first_delivered_at == delivered.delivered_at


def test_a_late_first_delivery_stays_late_and_the_redo_is_swept_on_its_own_clock(
    container: Container, world: World, clock: ManualClock, person: Any
) -> None:
    """No rework target: the redo gets the process's own (240 business minutes)."""
    received: datetime = world.submit(container).received_at
    clock.advance(timedelta(hours=5))  # past the 4 business hours
    first = work(container, world.agent_id, RESULT)
    delivered = _item(container, first.id)
    assert delivered.delivered_at is not None and delivered.delivered_at > delivered.due_at
    assert delivered.due_at == NEW_YORK.add(received, timedelta(minutes=240))
    rejected_at = clock.now()
    with container.context(world.client_user) as ctx:
        item = reject(ctx, first.id, reason="wrong applicant", fields=["applicant_name"])
    assert item.due_at == NEW_YORK.add(rejected_at, timedelta(minutes=240))
    assert (item.at_risk, item.breached) == (False, False)
    # The sweep marks the redo against its own due time: at risk, then breached.
    clock.set(item.at_risk_at - timedelta(seconds=1))
    assert _sweep(container) == (0, 0)
    clock.set(item.at_risk_at)
    assert _sweep(container) == (1, 0)
    clock.set(item.due_at)
    assert _sweep(container) == (0, 1)
    assert _kpis(container, world).breached == 1
    # Delivered again, then rejected again: the first delivery is the one kept.
    _redo(container, world, person("qa_reviewer"))
    kpis = _kpis(container, world)
    assert (kpis.delivered, kpis.on_time, kpis.breached) == (1, 0, 0)  # late once, not twice
    with container.context(world.client_user) as ctx:
        again = reject(ctx, first.id, reason="still wrong")
    assert (again.first_delivered_at, again.first_due_at) == (
        delivered.delivered_at,
        delivered.due_at,
    )
    assert (again.at_risk, again.breached, again.priority) == (False, False, 0)


def test_a_rejected_item_next_to_a_new_one_does_not_jump_the_queue(
    container: Container, world: World, clock: ManualClock
) -> None:
    """Dispatch takes the earliest due first: the redo's due time is the rework target from
    the rejection, so an item received before the rejection, due sooner, comes first."""
    _rework_target(container, world, 240)
    world.submit(container, "first.pdf")
    first = work(container, world.agent_id, RESULT)
    clock.advance(timedelta(hours=1))
    waiting = world.submit(container, "waiting.pdf")  # due 4 business hours from now
    clock.advance(timedelta(minutes=30))
    with container.context(world.client_user) as ctx:
        redo = reject(ctx, first.id, reason="x")
    assert redo.due_at > waiting.due_at
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
    assert lease is not None and lease.item_id == waiting.id


def test_the_rework_target_is_one_of_the_providers_terms(
    api: Any, container: Container, world: World
) -> None:
    """Positive when set, none by default (the redo then gets the process's own target),
    agreed with the other terms and audited with them."""
    wrong = ProcessDefinition(
        code="claims",
        name="Claims",
        kind="data_entry",
        input_schema=INPUT_SCHEMA,
        form_schema=FORM_SCHEMA,
        sla_minutes=60,
        sla_mode="24x7",
        rework_sla_minutes=0,
    )
    with transaction(container.sessions) as session, pytest.raises(InvalidInput) as raised:
        define_process(session, world.client_id, wrong, now=container.clock.now())
    assert [e["field"] for e in raised.value.extra["errors"]] == ["rework_sla_minutes"]
    url = f"/api/v1/processes/{world.process_id}"
    assert api("client").get(url).json()["rework_sla_minutes"] is None
    terms = {"sla_minutes": 240, "sla_mode": "business_hours", "rework_sla_minutes": 90}
    assert api("client").put(f"{url}/terms", json=terms).status_code == 403
    refused = api("ops").put(f"{url}/terms", json={**terms, "rework_sla_minutes": 0})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["rework_sla_minutes"]
    agreed = api("ops").put(f"{url}/terms", json=terms)
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["rework_sla_minutes"] == 90
    with transaction(container.sessions) as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "process.terms")
        ).one()
    assert (
        record.data["before"]["rework_sla_minutes"],
        record.data["after"]["rework_sla_minutes"],
    ) == (None, 90)
