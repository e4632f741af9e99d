"""Agents' shift requests through the real database and the real HTTP server: an agent asks,
reads and withdraws their own within the limits (each refusal naming its field); planners
list everyone's a page at a time; who may. A roster planned over the dates weighs them (a
day off granted when another agent covers, a start refused when coverage needs another),
records the answer in the draft, and the roster published decides for good; the days worked
in a row before a roster count with its first days."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.workforce import rosters, shift_requests
from tandem.workforce.models import Shift
from tests.conftest import World, _agent

MANILA = ZoneInfo("Asia/Manila")
MONDAY = date(2026, 3, 9)  # T0 is Wednesday 4 March 2026, 23:00 in Manila
NINE_TO_FIVE = [(d, 9 * 60, 480) for d in range(5)]


def _errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def _agent_user(
    container: Container, world: World, email: str, shifts: list[tuple[int, int, int]]
) -> tuple[Principal, str]:
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(session, email=email, name=email.split("@")[0], role="agent", now=now)
        agent_id = _agent(session, [world.client_id], user_id=user.id, shifts=shifts)
        return Principal(user.id, "agent", None, agent_id), issue_token(session, user.id, "t", now)


def _planner(container: Container) -> Principal:
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email="p@provider.example",
            name="P",
            role="wfm_planner",
            now=container.clock.now(),
        )
        return Principal(user.id, "wfm_planner", None, None)


# -- over HTTP ---------------------------------------------------------------------------------


def test_an_agent_asks_reads_and_withdraws_within_the_limits(
    api: Any, container: Container, world: World
) -> None:
    agent = api("agent")
    day_off = agent.post(
        "/api/v1/me/shift-requests",
        json={"local_date": "2026-03-10", "kind": "day_off", "note": "  a wedding  "},
    )
    assert day_off.status_code == 201, day_off.text
    made = day_off.json()
    assert made["status"] == "pending" and made["roster_id"] is None
    assert (made["agent_id"], made["center_code"], made["note"]) == (
        str(world.agent_id),
        "MNL",
        "a wedding",
    )
    assert made["start_time"] is None
    start = agent.post(
        "/api/v1/me/shift-requests",
        json={"local_date": "2026-03-11", "kind": "shift_start", "start_time": "10:30"},
    )
    assert start.status_code == 201, start.text
    assert start.json()["start_time"] == "10:30:00"
    mine = agent.get("/api/v1/me/shift-requests").json()
    assert [(r["local_date"], r["kind"]) for r in mine] == [
        ("2026-03-10", "day_off"),
        ("2026-03-11", "shift_start"),
    ]

    def refused(body: dict[str, Any]) -> dict[str, str]:
        return _errors(agent.post("/api/v1/me/shift-requests", json=body))

    # today in Manila is 4 March (23:00): not today, nor more than 90 days ahead
    assert (
        "after today (2026-03-04"
        in refused({"local_date": "2026-03-04", "kind": "day_off"})["local_date"]
    )
    assert refused({"local_date": "2026-06-03", "kind": "day_off"}) == {
        "local_date": "must be at most 90 days ahead"
    }
    assert (date(2026, 3, 4) + timedelta(days=90)).isoformat() == "2026-06-02"
    assert (
        agent.post(
            "/api/v1/me/shift-requests", json={"local_date": "2026-06-02", "kind": "day_off"}
        ).status_code
        == 201
    )
    assert "already asked" in refused({"local_date": "2026-03-10", "kind": "day_off"})["local_date"]
    assert set(refused({"local_date": "2026-03-12", "kind": "shift_start"})) == {"start_time"}
    assert (
        "half hour"
        in refused({"local_date": "2026-03-12", "kind": "shift_start", "start_time": "10:15"})[
            "start_time"
        ]
    )
    assert set(refused({"local_date": "2026-03-12", "kind": "day_off", "start_time": "10:00"})) == {
        "start_time"
    }
    assert set(refused({"local_date": "2026-03-12", "kind": "holiday"})) == {"kind"}
    assert set(refused({"local_date": "2026-03-12", "kind": "day_off", "note": "x" * 201})) == {
        "note"
    }
    assert set(refused({"local_date": "12 March", "kind": "day_off"})) == {"local_date"}

    # at most three a Monday-to-Sunday week; a withdrawn one no longer counts
    third = agent.post(
        "/api/v1/me/shift-requests", json={"local_date": "2026-03-15", "kind": "day_off"}
    )
    assert third.status_code == 201
    assert (
        "at most 3 requests a week"
        in refused({"local_date": "2026-03-13", "kind": "day_off"})["local_date"]
    )
    withdrawn = agent.delete(f"/api/v1/me/shift-requests/{third.json()['id']}")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_at"]
    again = agent.delete(f"/api/v1/me/shift-requests/{third.json()['id']}")
    assert again.status_code == 200 and again.json()["status"] == "withdrawn"
    assert (
        agent.post(
            "/api/v1/me/shift-requests", json={"local_date": "2026-03-13", "kind": "day_off"}
        ).status_code
        == 201
    )
    # a date of the week given: from and to, inclusive
    week = agent.get("/api/v1/me/shift-requests", params={"from": "2026-03-09", "to": "2026-03-15"})
    assert [r["status"] for r in week.json()] == ["pending", "pending", "pending", "withdrawn"]
    assert _errors(agent.get("/api/v1/me/shift-requests", params={"status": "pending"})) == {
        "query.status": "is not a parameter of this route: from, limit, offset, to"
    }
    assert set(
        _errors(
            agent.get(
                "/api/v1/me/shift-requests", params={"from": "2026-03-15", "to": "2026-03-09"}
            )
        )
    ) == {"to"}

    # another agent's request is not found; the day itself is no longer ahead: 409
    other = api("other_agent").delete(f"/api/v1/me/shift-requests/{made['id']}")
    assert other.status_code == 404
    container.clock.set(datetime.combine(date(2026, 3, 10), time(8), MANILA))
    late = agent.delete(f"/api/v1/me/shift-requests/{made['id']}")
    assert late.status_code == 409, late.text
    assert late.headers["content-type"] == "application/problem+json"

    # who may: agents their own; people without an agent profile or the permission, not
    for name in ("ops", "client", "security"):
        assert api(name).get("/api/v1/me/shift-requests").status_code == 403
        assert (
            api(name)
            .post("/api/v1/me/shift-requests", json={"local_date": "2026-03-20", "kind": "day_off"})
            .status_code
            == 403
        )


def test_planners_list_every_agents_requests_a_page_at_a_time(
    api: Any, container: Container, world: World
) -> None:
    for name, day in (
        ("agent", "2026-03-10"),
        ("agent", "2026-03-12"),
        ("other_agent", "2026-03-11"),
    ):
        made = api(name).post(
            "/api/v1/me/shift-requests", json={"local_date": day, "kind": "day_off"}
        )
        assert made.status_code == 201, made.text
    withdrawn = api("agent").post(
        "/api/v1/me/shift-requests", json={"local_date": "2026-03-20", "kind": "day_off"}
    )
    api("agent").delete(f"/api/v1/me/shift-requests/{withdrawn.json()['id']}")
    ops = api("ops")  # holds provider:roster:manage
    page = ops.get("/api/v1/shift-requests", params={"center": "MNL", "limit": 2})
    assert page.status_code == 200, page.text
    assert page.headers["X-Total-Count"] == "4"
    assert [r["local_date"] for r in page.json()] == ["2026-03-10", "2026-03-11"]
    assert 'rel="next"' in page.headers["Link"] and "offset=2" in page.headers["Link"]
    rest = ops.get("/api/v1/shift-requests", params={"center": "MNL", "limit": 2, "offset": 2})
    assert [r["local_date"] for r in rest.json()] == ["2026-03-12", "2026-03-20"]
    assert 'rel="prev"' in rest.headers["Link"]
    ranged = ops.get(
        "/api/v1/shift-requests",
        params={"from": "2026-03-11", "to": "2026-03-12", "status": "pending"},
    )
    assert [r["local_date"] for r in ranged.json()] == ["2026-03-11", "2026-03-12"]
    assert ranged.headers["X-Total-Count"] == "2"
    gone = ops.get("/api/v1/shift-requests", params={"status": "withdrawn"}).json()
    assert [r["local_date"] for r in gone] == ["2026-03-20"]

    assert set(_errors(ops.get("/api/v1/shift-requests", params={"center": "XXX"}))) == {"center"}
    assert set(_errors(ops.get("/api/v1/shift-requests", params={"status": "maybe"}))) == {
        "query.status"
    }
    assert set(
        _errors(
            ops.get("/api/v1/shift-requests", params={"from": "2026-03-12", "to": "2026-03-11"})
        )
    ) == {"to"}
    assert set(_errors(ops.get("/api/v1/shift-requests", params={"page": "2"}))) == {"query.page"}
    assert set(_errors(ops.get("/api/v1/shift-requests", params={"limit": "0"}))) == {"query.limit"}
    for name in ("agent", "client", "security"):
        assert api(name).get("/api/v1/shift-requests").status_code == 403


# -- planning weighs them ----------------------------------------------------------------------


def _monday_nine_to_five() -> dict[datetime, int]:
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    return {start + k * rosters.QUARTER: 1 for k in range(32)}


def test_a_roster_weighs_the_requests_records_them_and_publishing_decides(
    container: Container, world: World
) -> None:
    """Monday needs one agent from 09:00 to 17:00 in Manila. Xavi asks the day off, Yara to
    start at 10:00 (which would leave 09:00 short): Yara works from 09:00, Xavi is off.
    Wren (afternoons) asks the day off only after the draft: the roster published grants it."""
    planner = _planner(container)
    xavi, _ = _agent_user(container, world, "xavi@provider.example", NINE_TO_FIVE)
    yara, _ = _agent_user(container, world, "yara@provider.example", NINE_TO_FIVE)
    afternoons = [(d, 13 * 60, 480) for d in range(5)]  # she cannot cover 09:00
    wren, _ = _agent_user(container, world, "wren@provider.example", afternoons)
    with container.context(xavi) as ctx:
        off = shift_requests.make_request(ctx, local_date=MONDAY, kind="day_off").id
    with container.context(yara) as ctx:
        late = shift_requests.make_request(
            ctx, local_date=MONDAY, kind="shift_start", start_time=time(10)
        ).id
    spec = rosters.RosterSpec(
        name="Monday",
        first_date=MONDAY,
        days=1,
        requirement=_monday_nine_to_five(),
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    with container.context(planner) as ctx:
        prepared = rosters.prepare_roster(ctx, spec)
    asked = {r.id: r for a in prepared.problem.agents for r in a.requests}
    assert set(asked) == {str(off), str(late)}
    assert asked[str(late)].start == time(10)
    summary = rosters.plan_roster(lambda: container.context(planner), spec, time_limit=3)
    assert summary.coverage == 1.0
    with container.context(planner) as ctx:
        detail = rosters.roster_detail(ctx, summary.id)
        decided = shift_requests.decisions_of(ctx, summary.id)
    working = {a.agent_id: a.days[0] for a in detail.agents if a.days[0] is not None}
    assert yara.agent_id in working and xavi.agent_id not in working
    assert working[yara.agent_id].start == time(9)  # type: ignore[union-attr]
    assert [(r.id, r.status, r.roster_state) for r in decided[xavi.agent_id]] == [
        (off, "granted", "draft")
    ]
    assert [(r.id, r.status) for r in decided[yara.agent_id]] == [(late, "not_granted")]

    with container.context(wren) as ctx:
        after = shift_requests.make_request(ctx, local_date=MONDAY, kind="day_off").id
    with container.context(planner) as ctx:
        rosters.publish_roster(ctx, summary.id)
    with container.context(planner) as ctx:
        found = {
            r.id: (r.status, r.roster_id, r.roster_state)
            for r in shift_requests.list_requests(ctx, first=MONDAY, last=MONDAY).items
        }
    assert found == {
        off: ("granted", summary.id, "published"),
        late: ("not_granted", summary.id, "published"),
        after: ("granted", summary.id, "published"),
    }
    # decided by the published roster: the agent can no longer withdraw it
    with container.context(xavi) as ctx, pytest.raises(Conflict, match="published roster"):
        shift_requests.withdraw_request(ctx, off)


def test_days_worked_before_the_roster_count_with_its_first_days(
    container: Container, world: World
) -> None:
    """Pia works every day at 09:00: six days in a row before Monday, so with at most six
    in a row Monday is off and Tuesday she works. Working Wednesday to Sunday only (five
    before Monday), she works Monday, not Tuesday, though both need her."""
    planner = _planner(container)
    every_day = [(d, 9 * 60, 480) for d in range(7)]
    pia, _ = _agent_user(container, world, "pia@provider.example", every_day)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    # Monday 09:00 to 17:00, Tuesday 09:00 to 13:00: Monday is worth more, when she may
    requirement = {
        start + timedelta(days=d) + k * rosters.QUARTER: 1
        for d, quarters in ((0, 32), (1, 16))
        for k in range(quarters)
    }
    spec = rosters.RosterSpec(
        name="Two days",
        first_date=MONDAY,
        days=2,
        requirement=requirement,
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    with container.context(planner) as ctx:
        prepared = rosters.prepare_roster(ctx, spec)
    before = {uuid.UUID(a.id): a.worked_before for a in prepared.problem.agents}
    # Pia: every day, the last six counted (the rule's reach); the world's agent works all week
    assert before[pia.agent_id] == 6
    assert before[world.agent_id] == 6
    summary = rosters.plan_roster(lambda: container.context(planner), spec, time_limit=3)
    with container.context(planner) as ctx:
        detail = rosters.roster_detail(ctx, summary.id)
    days = {a.agent_id: a.days for a in detail.agents}
    assert days[pia.agent_id][0] is None  # six in a row already: Monday would be a 7th
    assert days[pia.agent_id][1] is not None
    assert summary.coverage < 1.0  # nobody else may work Monday

    # with Monday and Tuesday off in her week (Wednesday to Sunday only): five before Monday
    with transaction(container.sessions) as session:
        session.query(Shift).filter(Shift.agent_id == pia.agent_id, Shift.weekday < 2).delete()
    with container.context(planner) as ctx:
        prepared = rosters.prepare_roster(ctx, spec)
    before = {uuid.UUID(a.id): a.worked_before for a in prepared.problem.agents}
    assert before[pia.agent_id] == 5
    summary = rosters.plan_roster(lambda: container.context(planner), spec, time_limit=3)
    with container.context(planner) as ctx:
        detail = rosters.roster_detail(ctx, summary.id)
    days = {a.agent_id: a.days for a in detail.agents}
    assert days[pia.agent_id][0] is not None and days[pia.agent_id][1] is None
