"""A brand's service levels: per priority, the first and next response as the due times of
a conversation's work, and a resolution clock that pauses while the conversation waits on
the customer; set by the desk's managers (checked, audited); the rules pure, then through
the real server and SMTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.servicedesk import sla
from tandem.servicedesk.models import Conversation, Message
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.models import Client
from tandem.work.models import WorkItem
from tests.servicedesk.conftest import Desk
from tests.servicedesk.test_email_in import FIRST

NORMAL = {"min_priority": 0, "first_response_minutes": 60, "next_response_minutes": 30}
URGENT = {"min_priority": 50, "first_response_minutes": 10, "next_response_minutes": 5}
ALWAYS = BusinessCalendar.from_dict({"timezone": "UTC", "always_open": True})
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_targets_for_a_priority_and_bad_ones_named() -> None:
    targets = sla.parsed([NORMAL, {**URGENT, "resolution_minutes": 120}])
    assert sla.for_priority(targets, None).first_response_minutes == 60  # type: ignore[union-attr]
    assert sla.for_priority(targets, 70).first_response_minutes == 10  # type: ignore[union-attr]
    assert sla.for_priority(targets, -5) is None  # below every target: the process's SLA
    with pytest.raises(InvalidInput) as refused:
        sla.parsed([{**NORMAL, "first_response_minutes": 0}, NORMAL, NORMAL])
    fields = [e["field"] for e in refused.value.extra["errors"]]
    assert fields == ["targets[0].first_response_minutes", "targets"]  # and one per priority


def test_the_resolution_clock_pauses_on_the_customer_and_stops_when_solved() -> None:
    targets = sla.Targets(0, 60, 30, resolution_minutes=240)
    clock = sla.started(targets, ALWAYS, T0)
    assert clock.due_at == T0 + timedelta(hours=4)
    paused = sla.followed(clock, "pending", ALWAYS, T0 + timedelta(hours=1))
    assert paused.due_at is None and paused.paused_remaining_s == 3 * 3600
    assert sla.breached(paused, T0 + timedelta(days=9)) is None  # the customer's time
    resumed = sla.followed(paused, "open", ALWAYS, T0 + timedelta(days=1))
    assert resumed.due_at == T0 + timedelta(days=1, hours=3)
    solved = sla.followed(resumed, "solved", ALWAYS, T0 + timedelta(days=1, hours=2))
    assert solved.resolved_at == T0 + timedelta(days=1, hours=2)
    assert sla.breached(solved, T0 + timedelta(days=30)) is False
    late = sla.followed(resumed, "solved", ALWAYS, T0 + timedelta(days=1, hours=5))
    assert sla.breached(late, T0 + timedelta(days=30)) is True
    # Paused already past due: still past due when it runs again.
    overdue = sla.followed(clock, "pending", ALWAYS, T0 + timedelta(hours=5))
    again = sla.followed(overdue, "open", ALWAYS, T0 + timedelta(days=2))
    assert sla.breached(again, T0 + timedelta(days=2)) is True


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_brands_levels_set_the_due_times_and_the_resolution_clock(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    path = f"/api/v1/brands/{desk.brand_id}/service-levels"
    assert api("client").put(path, json={"targets": [NORMAL]}).status_code == 403
    bad = api("ops").put(path, json={"targets": [{**NORMAL, "next_response_minutes": -1}]})
    assert bad.status_code == 422
    levels = {"targets": [{**NORMAL, "resolution_minutes": 240}, URGENT]}
    shown = _ok(api("ops").put(path, json=levels))
    assert [t["min_priority"] for t in shown["targets"]] == [50, 0]
    assert _ok(api("ops").get(path)) == shown
    with transaction(container.sessions) as session:
        calendar = BusinessCalendar.from_dict(
            session.get_one(Client, desk.world.client_id).calendar
        )

    def work() -> tuple[WorkItem, Conversation]:
        with transaction(container.sessions) as session:
            conversation = session.scalars(select(Conversation)).one()
            item = session.get_one(WorkItem, (conversation.client_id, conversation.work_item_id))
            return item, conversation

    desk.send(FIRST)
    written = clock.now()
    item, conversation = work()
    assert item.due_at == calendar.add(written, timedelta(minutes=60))  # the first response
    assert conversation.resolution_due_at == calendar.add(written, timedelta(minutes=240))

    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    clock.advance(timedelta(seconds=40))  # within the test's 60 s lease
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation.id}/replies",
            json={"attempt": lease["attempt"], "text": "It left today."},
        ),
        201,
    )
    waiting = _ok(api("client").get(f"/api/v1/conversations/{conversation.id}"))
    assert waiting["resolution_due_at"] is None and waiting["resolution_breached"] is None
    _, paused = work()
    remaining = paused.resolution_paused_remaining_s
    assert (
        remaining == calendar.between(clock.now(), conversation.resolution_due_at).total_seconds()
    )

    clock.advance(timedelta(days=3))  # the customer takes their time: the clock waits
    with transaction(container.sessions) as session:
        ours = session.scalars(select(Message.message_id).where(Message.direction == "out")).one()
    desk.send(
        FIRST.replace("<first-1@mail.example.com>", "<again-1@mail.example.com>").replace(
            "Subject: My parcel", f"In-Reply-To: <{ours}>\nSubject: Re: My parcel"
        )
    )
    answered = clock.now()
    item, conversation = work()
    assert item.due_at == calendar.add(answered, timedelta(minutes=30))  # the next response
    assert conversation.resolution_due_at == calendar.add(answered, timedelta(seconds=remaining))
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation.id}"))
    assert shown["resolution_breached"] is False


def test_a_late_conversation_shows_on_the_operations_floor(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    levels = {"targets": [{**NORMAL, "resolution_minutes": 30}]}
    _ok(api("ops").put(f"/api/v1/brands/{desk.brand_id}/service-levels", json=levels))
    with transaction(container.sessions) as session:  # the client's office hours: open now
        client = session.get_one(Client, desk.world.client_id)
        calendar = BusinessCalendar.from_dict(client.calendar)
    clock.set(calendar.add(clock.now(), timedelta(0)))
    desk.send(FIRST)
    floor = api("ops").get("/console/operations/live")
    assert floor.status_code == 200 and "Conversations to solve within the hour" in floor.text
    assert "(late)" not in floor.text
    clock.set(calendar.add(clock.now(), timedelta(minutes=45)))
    floor = api("ops").get("/console/operations/live")
    assert "(late)" in floor.text and "My parcel has not arrived" in floor.text
