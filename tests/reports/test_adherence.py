"""The adherence read models on the real database, from real sign-ins, breaks, claims,
submits and reaps, the clock moved between them; and their API's permissions and 422s."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.reports import adherence as reports
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.workforce import presence
from tandem.workforce.adherence import Actual
from tandem.workforce.models import Shift
from tests.conftest import RESULT, World, _agent

W, ID, B, S = Actual.WORKING, Actual.IDLE, Actual.BREAK, Actual.SIGNED_OUT
IDLE = timedelta(minutes=30)
DAY = date(2026, 3, 4)  # a Wednesday; Manila's day is 16:00 UTC the day before to 16:00 UTC


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 4, hour, minute, tzinfo=UTC)


def _shift_only(container: Container, agent_id: uuid.UUID, local_start: int, minutes: int) -> None:
    """The agent works Wednesdays from `local_start` (Manila's minutes), and no other time."""
    with transaction(container.sessions) as session:
        session.execute(delete(Shift).where(Shift.agent_id == agent_id))
        session.add(
            Shift(agent_id=agent_id, weekday=2, start_minute=local_start, duration_minutes=minutes)
        )


def _agent_day(container: Container, world: World, clock: ManualClock) -> Principal:
    """14:00 to 16:00 UTC scheduled (22:00 to midnight in Manila). Signed in at 14:00, an item
    claimed 14:05 and submitted 14:12, a break 14:20 to 14:35, an item claimed at 14:40 and
    left to expire (reaped at 14:45); the clock at 15:00."""
    _shift_only(container, world.agent_id, 22 * 60, 120)
    container.dispatcher.forget_agent(world.agent_id)
    agent = Principal(world.agent_id, "agent", None, world.agent_id)
    clock.set(at(13))
    world.submit(container, "one")
    world.submit(container, "two")
    clock.set(at(14))
    with transaction(container.sessions) as session:
        presence.signed_in(session, world.agent_id, clock.now())
    clock.set(at(14, 5))
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
    assert lease is not None
    while clock.now() < at(14, 12):  # the page keeps the 60-second lease alive
        clock.advance(timedelta(seconds=min(50, (at(14, 12) - clock.now()).total_seconds())))
        with transaction(container.sessions) as session:
            container.dispatcher.heartbeat(session, world.agent_id, lease.item_id, lease.attempt)
    with transaction(container.sessions) as session:
        container.dispatcher.submit(session, world.agent_id, lease.item_id, lease.attempt, RESULT)
    clock.set(at(14, 20))
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "break", means="console", idle=IDLE)
    container.dispatcher.forget_agent(world.agent_id)  # as the routes do
    clock.set(at(14, 35))
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "available", means="console", idle=IDLE)
    container.dispatcher.forget_agent(world.agent_id)  # as the routes do
    clock.set(at(14, 40))
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, world.agent_id) is not None
    clock.set(at(14, 45))  # the lease (60 s in tests) expired at 14:41; the reaper runs now
    with transaction(container.sessions) as session:
        assert container.dispatcher.reap(session) == 1
    clock.set(at(15))
    return agent


def test_a_centers_day_per_agent_and_interval(
    container: Container, world: World, clock: ManualClock
) -> None:
    _agent_day(container, world, clock)
    with container.context(SYSTEM) as ctx:
        day = reports.center_day(ctx, "MNL", DAY, idle=IDLE)
    assert (day.start, day.until) == (datetime(2026, 3, 3, 16, tzinfo=UTC), at(15))
    ours = next(row for row in day.agents if row.agent_id == world.agent_id)
    assert ours.scheduled == [(at(14), at(16))]
    assert len(ours.intervals) == 23 * 4
    shown = {row.start: row for row in ours.intervals}
    first, second, third, fourth = (shown[at(14, m)] for m in (0, 15, 30, 45))
    assert first.minutes == {W: 7, ID: 8, B: 0, S: 0} and first.in_adherence
    assert second.minutes == {W: 0, ID: 5, B: 10, S: 0} and not second.in_adherence
    assert second.state is B
    # 14:40 to 14:45 worked: the reaped lease counts until its reap.
    assert third.minutes == {W: 5, ID: 5, B: 5, S: 0}
    assert fourth.minutes == {W: 0, ID: 15, B: 0, S: 0}
    assert shown[at(13, 45)].minutes[S] == 15 and shown[at(13, 45)].in_adherence  # off, out
    assert ours.totals.scheduled_minutes == 60  # 14:00 to 15:00: the day so far
    assert ours.totals.minutes[W] == 12 and ours.totals.minutes[B] == 15
    assert ours.totals.adherence == pytest.approx(45 / 60)
    assert ours.totals.conformance == pytest.approx(45 / 60)
    other = next(row for row in day.agents if row.agent_id != world.agent_id)
    assert other.totals.scheduled_minutes == 23 * 60  # every day, all day: never signed in
    assert other.totals.adherence == 0
    assert day.totals.scheduled_minutes == 60 + 23 * 60
    assert day.totals.adherent_scheduled_minutes == pytest.approx(45)


def test_out_of_adherence_now(container: Container, world: World, clock: ManualClock) -> None:
    agent = _agent_day(container, world, clock)
    with transaction(container.sessions) as session:
        unscheduled = _agent(session, [world.client_id], shifts=[])
        presence.signed_in(session, unscheduled, at(14, 30))
    with container.context(SYSTEM) as ctx:
        out = {o.agent_id: o for o in reports.out_of_adherence_now(ctx, idle=IDLE)}
    assert world.agent_id not in out  # scheduled and available
    assert out[unscheduled].reason == "off schedule" and out[unscheduled].state is ID
    assert out[unscheduled].since == at(14, 30)
    others = [o for o in out.values() if o.agent_id != unscheduled]
    assert [(o.state, o.reason, o.scheduled) for o in others] == [(S, "not working", True)]
    clock.advance(timedelta(minutes=3))
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "break", means="console", idle=IDLE)
    container.dispatcher.forget_agent(world.agent_id)  # as the routes do
    clock.advance(timedelta(minutes=4))
    with container.context(SYSTEM) as ctx:
        out = {o.agent_id: o for o in reports.out_of_adherence_now(ctx, center="MNL", idle=IDLE)}
    assert out[world.agent_id].state is B and out[world.agent_id].since == at(15, 3)


def test_intraday_staffing_for_the_rest_of_today(
    container: Container, world: World, clock: ManualClock
) -> None:
    for weeks_back in (1, 2, 3):  # 20 items at 16:00 UTC (11:00 in New York) on Wednesdays
        clock.set(at(16, 1) - timedelta(weeks=weeks_back))
        for n in range(20):
            world.submit(container, f"w{weeks_back}-{n}")
    _agent_day(container, world, clock)
    with container.context(SYSTEM) as ctx:
        found = reports.intraday(ctx, world.process_id, weeks=3)
    assert found.timezone == "America/New_York" and found.eligible_agents == 1
    starts = [row.start.astimezone(UTC) for row in found.intervals]
    assert starts[0] == at(15)  # the interval under way first
    assert starts[-1] == datetime(2026, 3, 5, 4, 45, tzinfo=UTC)  # 23:45 in New York
    by_start = dict(zip(starts, found.intervals, strict=True))
    for row in found.intervals:
        assert row.gap == pytest.approx(row.scheduled - row.needed)
        assert row.staffed == ("under" if row.gap < 0 else "over" if row.gap > 0 else "even")
    # The agent cleared for the insurer is scheduled until 16:00 UTC, nobody after.
    assert [by_start[at(15, m)].scheduled for m in (0, 15, 30, 45)] == [1, 1, 1, 1]
    assert by_start[at(16)].scheduled == 0
    busy = by_start[at(16)]
    assert busy.arrivals > 0 and busy.needed >= 1 and busy.staffed == "under"
    assert by_start[datetime(2026, 3, 5, 4, 45, tzinfo=UTC)].staffed == "even"


def test_the_api_and_its_permissions(
    server: str, container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    _agent_day(container, world, clock)
    ops = api("ops")
    answer = ops.get("/api/v1/adherence", params={"center": "MNL", "date": "2026-03-04"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "Asia/Manila" and body["date"] == "2026-03-04"
    ours = next(a for a in body["agents"] if a["agent_id"] == str(world.agent_id))
    assert ours["totals"]["adherence"] == pytest.approx(0.75)
    second = next(i for i in ours["intervals"] if i["start"] == "2026-03-04T22:15:00+08:00")
    assert second["minutes"] == {"working": 0, "idle": 5, "break": 10, "signed_out": 0}
    assert (second["state"], second["in_adherence"]) == ("break", False)
    now = ops.get("/api/v1/adherence/now")
    assert now.status_code == 200 and [o["reason"] for o in now.json()] == ["not working"]
    intraday = ops.get(f"/api/v1/processes/{world.process_id}/intraday", params={"weeks": 3})
    assert intraday.status_code == 200, intraday.text
    assert intraday.json()["intervals"][0]["start"].startswith("2026-03-04T10:00:00-05:00")

    for refused in ("agent", "client", "security"):
        status = api(refused).get("/api/v1/adherence/now").status_code
        assert status == 403, refused
    for refused in ("agent", "client"):
        query = {"center": "MNL", "date": "2026-03-04"}
        assert api(refused).get("/api/v1/adherence", params=query).status_code == 403
        path = f"/api/v1/processes/{world.process_id}/intraday"
        assert api(refused).get(path).status_code == 403
    for params in (
        {"date": "2026-03-04"},
        {"center": "MNL"},
        {"center": "MNL", "date": "04/03/2026"},
        {"center": "XXX", "date": "2026-03-04"},
        {"center": "MNL", "date": "2026-03-04", "interval_minutes": 20},
    ):
        bad = ops.get("/api/v1/adherence", params=params)
        assert bad.status_code == 422, params
        assert bad.headers["content-type"].startswith("application/problem+json")
    bad = ops.get(f"/api/v1/processes/{world.process_id}/intraday", params={"interval_minutes": 5})
    assert bad.status_code == 422
    assert ops.get(f"/api/v1/processes/{uuid.uuid4()}/intraday").status_code == 404
