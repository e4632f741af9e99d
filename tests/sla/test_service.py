"""SLA clocks of real items: business calendar, pause while waiting, escalation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.models import Client
from tandem.work import transitions as work
from tandem.work.models import WorkItem
from tandem.work.transitions import escalate
from tests.conftest import World

NY = "America/New_York"


def _due(container: Container, world: World, at: datetime) -> datetime:
    container.clock.set(at)  # type: ignore[attr-defined]
    return world.submit(container, "x").due_at


def _local(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(NY))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        # 4-hour SLA, 09:00-17:00 New York. Inside hours: same day.
        (_local(2026, 3, 4, 10, 0), _local(2026, 3, 4, 14, 0)),
        # Friday 15:00: two hours Friday, two on Monday.
        (_local(2026, 3, 6, 15, 0), _local(2026, 3, 9, 11, 0)),
        # Arrival on a Saturday: the clock starts Monday 09:00.
        (_local(2026, 3, 7, 11, 0), _local(2026, 3, 9, 13, 0)),
        # Arrival at night: the clock starts at the next opening.
        (_local(2026, 3, 4, 22, 30), _local(2026, 3, 5, 13, 0)),
        # Friday before the clocks go forward (Sunday 2026-03-08): 4 business hours still.
        (_local(2026, 3, 6, 16, 0), _local(2026, 3, 9, 12, 0)),
    ],
)
def test_due_time_on_the_clients_business_calendar(
    container: Container, world: World, arrival: datetime, due: datetime
) -> None:
    assert _due(container, world, arrival) == due.astimezone(UTC)


def test_holiday_is_skipped(container: Container, world: World) -> None:
    with transaction(container.sessions) as session:
        calendar = BusinessCalendar.office_hours(NY, holidays=[date(2026, 3, 5)]).to_dict()
        session.execute(
            update(Client).where(Client.id == world.client_id).values(calendar=calendar)
        )
    # Wednesday 15:00: two hours on Wednesday, Thursday is a holiday, two hours on Friday.
    assert _due(container, world, _local(2026, 3, 4, 15, 0)) == _local(
        2026, 3, 6, 11, 0
    ).astimezone(UTC)


def test_waiting_pauses_the_clock(container: Container, world: World, clock: ManualClock) -> None:
    clock.set(_local(2026, 3, 4, 9, 0).astimezone(UTC))
    item = world.submit(container, "x")
    assert item.due_at == _local(2026, 3, 4, 13, 0).astimezone(UTC)
    clock.advance(timedelta(hours=1))  # 10:00, three business hours left
    with container.context(world.client_user) as ctx:
        held = work.hold(ctx, item.id, "unreadable scan", at_risk_fraction=0.75)
    assert held.state == "waiting" and held.sla_paused_remaining_s == 3 * 3600
    clock.set(_local(2026, 3, 5, 16, 0).astimezone(UTC))  # next day, 16:00
    with container.context(world.client_user) as ctx:
        resumed = work.resume(ctx, item.id, at_risk_fraction=0.75)
    # one hour today, two tomorrow morning
    assert resumed.state == "queued"
    assert resumed.due_at == _local(2026, 3, 6, 11, 0).astimezone(UTC)
    # at risk once 75% of the 4-hour target is used: 1 hour before due, business time
    assert resumed.at_risk_at == _local(2026, 3, 6, 10, 0).astimezone(UTC)


def test_escalation_marks_at_risk_then_breached_and_raises_priority(
    container: Container, world: World, clock: ManualClock
) -> None:
    clock.set(_local(2026, 3, 4, 9, 0).astimezone(UTC))
    item = world.submit(container, "x")
    marks: list[Any] = []
    for hours in (2, 3, 4):
        clock.set(_local(2026, 3, 4, 9 + hours, 0).astimezone(UTC))
        with transaction(container.sessions) as session:
            marks.append(escalate(session, clock.now(), 10))
    assert marks == [(0, 0), (1, 0), (0, 1)]
    with transaction(container.sessions) as session:
        row = session.execute(
            select(WorkItem.priority, WorkItem.at_risk, WorkItem.breached).where(
                WorkItem.id == item.id
            )
        ).one()
    assert tuple(row) == (10, True, True)
