"""Rosters through the real database and the real HTTP server: weekly shifts expanded across
midnight and daylight-saving changes; a plan's stored shifts pass the solver's independent
check; publishing makes dispatch honour the roster (a rostered agent claims, an agent given
the day off cannot though their weekly shift says they work); exports typed; who may; 422s."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tandem.audit.models import PROVIDER, AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.tenancy.context import Context
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.workforce import rosters
from tandem.workforce.eligibility import WeeklyShift
from tandem.workforce.models import DeliveryCenter
from tandem.workforce.roster_models import RosterShift
from tandem.workforce.rostering import realistic
from tandem.workforce.schedule import scheduled, weekly_intervals
from tests.conftest import World, _agent
from tests.workforce.history import seed_history

WARSAW = ZoneInfo("Europe/Warsaw")
MANILA = ZoneInfo("Asia/Manila")
MONDAY = date(2026, 3, 9)  # the Monday after T0 (Wednesday 4 March 2026)
NOW_MONDAY = datetime.combine(MONDAY, time(12), MANILA)  # noon in Manila: 04:00 UTC
NINE_TO_FIVE = [(d, 9 * 60, 480) for d in range(5)]
EVERY_DAY = [(d, 9 * 60, 480) for d in range(7)]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- weekly shifts as dated intervals (pure) ---------------------------------------------------


def test_a_night_shift_runs_past_midnight_and_the_clocks_change_its_real_length() -> None:
    """Saturday 22:00 for 8 hours of wall clock in Krakow: 7 real hours the night summer
    time begins (28 March 2027), 9 the night it ends (31 October 2027)."""
    saturday_night = [WeeklyShift(5, 22 * 60, 480)]
    spring = weekly_intervals(saturday_night, WARSAW, utc(2027, 3, 27), utc(2027, 3, 29))
    assert spring == [(utc(2027, 3, 27, 21), utc(2027, 3, 28, 4))]  # 22:00 CET to 06:00 CEST
    autumn = weekly_intervals(saturday_night, WARSAW, utc(2027, 10, 30), utc(2027, 11, 1))
    assert autumn == [(utc(2027, 10, 30, 20), utc(2027, 10, 31, 5))]  # 22:00 CEST to 06:00 CET


def test_intervals_are_clipped_sorted_and_merged_where_they_touch() -> None:
    """A shift started the day before the window counts from the window's start; Monday's
    two shifts that touch are one interval; nothing outside [start, end)."""
    shifts = [
        WeeklyShift(6, 20 * 60, 480),  # Sunday 20:00 to Monday 04:00
        WeeklyShift(0, 9 * 60, 240),  # Monday 09:00-13:00
        WeeklyShift(0, 13 * 60, 240),  # Monday 13:00-17:00: touches
        WeeklyShift(1, 9 * 60, 60),  # Tuesday: after the window
    ]
    start = datetime.combine(date(2026, 3, 9), time(0), MANILA)
    end = start + timedelta(days=1)
    assert weekly_intervals(shifts, MANILA, start, end) == [
        (start.astimezone(UTC), (start + timedelta(hours=4)).astimezone(UTC)),
        (
            (start + timedelta(hours=9)).astimezone(UTC),
            (start + timedelta(hours=17)).astimezone(UTC),
        ),
    ]


def test_a_start_the_clocks_skip_is_read_as_the_instant_they_would_have_shown() -> None:
    """02:30 does not exist in Krakow on 28 March 2027: the shift starts at 03:30 summer time
    (01:30 UTC), the instant 02:30 winter time names, and runs 4 wall-clock hours to 06:30."""
    found = weekly_intervals([WeeklyShift(6, 150, 240)], WARSAW, utc(2027, 3, 28), utc(2027, 3, 29))
    assert found == [(utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 4, 30))]


# -- fixtures ----------------------------------------------------------------------------------


@contextmanager
def _contexts(container: Container, principal: Principal) -> Iterator[Context]:
    with container.context(principal) as ctx:
        yield ctx


def _planner(container: Container) -> tuple[Principal, str]:
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(
            session, email="p@provider.example", name="P", role="wfm_planner", now=now
        )
        return Principal(user.id, "wfm_planner", None, None), issue_token(
            session, user.id, "t", now
        )


@pytest.fixture
def planner(container: Container, world: World) -> tuple[Principal, str]:
    return _planner(container)


def _agent_with_sign_in(
    container: Container, world: World, email: str, shifts: list[tuple[int, int, int]]
) -> tuple[uuid.UUID, str]:
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(session, email=email, name=email, role="agent", now=now)
        agent_id = _agent(session, [world.client_id], user_id=user.id, shifts=shifts)
        return agent_id, issue_token(session, user.id, "t", now)


def _nine_to_five_requirement() -> list[dict[str, Any]]:
    """One agent on Monday from 09:00 to 17:00 in Manila (01:00 to 09:00 UTC)."""
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    return [{"start": (start + k * rosters.QUARTER).isoformat(), "agents": 1} for k in range(32)]


# -- planning: the stored shifts pass the check ------------------------------------------------


def test_a_planned_rosters_stored_shifts_pass_the_independent_check(
    container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    principal, _ = planner
    for index in range(3):
        _agent_with_sign_in(container, world, f"n{index}@provider.example", NINE_TO_FIVE)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    requirement = {start + k * rosters.QUARTER: 2 for k in range(32)}
    for day in range(1, 7):  # one agent each later day
        for k in range(32):
            requirement[start + timedelta(days=day) + k * rosters.QUARTER] = 1
    spec = rosters.RosterSpec(
        name="Manila week",
        first_date=MONDAY,
        days=7,
        requirement=requirement,
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    summary = rosters.plan_roster(lambda: _contexts(container, principal), spec, time_limit=3)
    assert summary.state == "draft"
    assert summary.agents == 4  # the world's agent cleared for the insurer, and three
    assert summary.shifts > 0
    with _contexts(container, principal) as ctx:
        prepared = rosters.prepare_roster(ctx, spec)  # the same problem, read again
        stored = ctx.session.scalars(
            select(RosterShift).where(RosterShift.roster_id == summary.id)
        ).all()
        shifts = [
            realistic.RosteredShift(
                str(s.agent_id),
                s.local_date,
                time(s.start_minute // 60, s.start_minute % 60),
                s.minutes,
            )
            for s in stored
        ]
        checked = realistic.check(prepared.problem, shifts)
        assert checked.violations == ()
        assert checked.cost_cents == summary.cost_cents == sum(s.cost_cents for s in stored)
        assert checked.coverage == summary.coverage
        for s in stored:  # the UTC times are the local ones read in Manila
            local = s.starts_at.astimezone(MANILA)
            assert (local.date(), local.hour * 60 + local.minute) == (s.local_date, s.start_minute)
        record = ctx.session.scalars(
            select(AuditRecord).where(
                AuditRecord.client_id == PROVIDER, AuditRecord.subject == f"roster:{summary.id}"
            )
        ).one()
        assert record.action == "roster.plan"


# -- publishing: dispatch honours the roster ---------------------------------------------------


def _errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_published_roster_decides_who_may_claim(
    container: Container, world: World, server: str, planner: tuple[Principal, str]
) -> None:
    _, token = planner
    first, first_token = _agent_with_sign_in(container, world, "x@provider.example", NINE_TO_FIVE)
    second, second_token = _agent_with_sign_in(container, world, "y@provider.example", NINE_TO_FIVE)
    container.clock.set(NOW_MONDAY)
    for _ in range(3):
        world.submit(container)
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as api:
        planned = api.post(
            "/api/v1/rosters",
            json={
                "name": "Monday",
                "first_date": MONDAY.isoformat(),
                "days": 1,
                "process_id": str(world.process_id),
                "requirement": _nine_to_five_requirement(),
                "time_limit_seconds": 3,
            },
        )
        assert planned.status_code == 201, planned.text
        roster = planned.json()
        assert roster["state"] == "draft" and roster["coverage"] == 1.0
        assert roster["source"]["kind"] == "explicit"
        detail = api.get(f"/api/v1/rosters/{roster['id']}").json()
        days = {row["agent_id"]: row["days"][0] for row in detail["agents"]}
        working = [a for a, d in days.items() if d is not None]
        assert len(working) == 1 and working[0] in (str(first), str(second))
        shift = days[working[0]]
        assert (shift["start"], shift["end"], shift["real_minutes"]) == (
            "09:00:00",
            "17:00:00",
            480,
        )
        assert detail["agents"][0]["timezone"] == "Asia/Manila"
        tokens = {str(first): first_token, str(second): second_token}
        off = str(second) if working[0] == str(first) else str(first)

        coverage = api.get(f"/api/v1/rosters/{roster['id']}/coverage").json()
        needed = [i for i in coverage["intervals"] if i["required"]]
        assert len(needed) == 32
        assert all(i["scheduled"] == 1 and i["by_center"] == {"MNL": 1} for i in needed)

        def claim(agent: str) -> httpx.Response:
            with httpx.Client(
                base_url=server, headers={"Authorization": f"Bearer {tokens[agent]}"}
            ) as client:
                return client.post("/api/v1/dispatch/claim")

        # a draft decides nothing: both work their weekly shift (and the claim is cached)
        assert claim(off).status_code == 200
        published = api.post(f"/api/v1/rosters/{roster['id']}/publish")
        assert published.status_code == 200, published.text
        assert published.json()["roster"]["state"] == "published"
        assert published.json()["roster"]["deciding_days"] == 1
        assert claim(working[0]).status_code == 200  # rostered now
        assert claim(off).status_code == 204  # the roster gave them the day off
        again = api.post(f"/api/v1/rosters/{roster['id']}/publish")
        assert again.status_code == 409

    with container.sessions() as session:  # the schedule says the same
        found = scheduled(
            session,
            [first, second],
            datetime.combine(MONDAY, time(0), MANILA),
            datetime.combine(MONDAY + timedelta(days=2), time(0), MANILA),
        )
    nine = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    assert found[uuid.UUID(working[0])][0] == (nine, nine + timedelta(hours=8))
    # the day off, then Tuesday's weekly shift again (no roster decides Tuesday)
    assert found[uuid.UUID(off)] == [(nine + timedelta(days=1), nine + timedelta(days=1, hours=8))]


def test_a_later_publication_supersedes_the_earlier_date_by_date(
    container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    principal, _ = planner
    _agent_with_sign_in(container, world, "z@provider.example", NINE_TO_FIVE)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    spec = rosters.RosterSpec(
        name="one",
        first_date=MONDAY,
        days=1,
        requirement={start + k * rosters.QUARTER: 1 for k in range(32)},
        source={"kind": "explicit"},
        client_id=world.client_id,
    )
    ids = []
    for name in ("one", "two"):
        made = rosters.plan_roster(
            lambda: _contexts(container, principal),
            spec.__class__(**{**spec.__dict__, "name": name}),
            time_limit=2,
        )
        with _contexts(container, principal) as ctx:
            rosters.publish_roster(ctx, made.id)
        ids.append(made.id)
    with _contexts(container, principal) as ctx:
        states = {r.id: (r.state, r.deciding_days) for r in rosters.list_rosters(ctx).items}
    assert states == {ids[0]: ("superseded", 0), ids[1]: ("published", 1)}


# -- planning from a forecast, exports, permissions, 422s --------------------------------------


@pytest.fixture
def seeded(container: Container, world: World) -> World:
    return seed_history(container, world)


def test_a_roster_from_the_process_forecast_and_its_exports(
    seeded: World, api: Any, container: Container, planner: tuple[Principal, str]
) -> None:
    _, token = planner
    with httpx.Client(
        base_url=api("ops").base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        planned = client.post(
            "/api/v1/rosters",
            json={
                "name": "From the forecast",
                "first_date": MONDAY.isoformat(),
                "days": 1,
                "process_id": str(seeded.process_id),
                "weeks": 4,
                "time_limit_seconds": 2,
            },
        )
        assert planned.status_code == 201, planned.text
        roster = planned.json()
        assert roster["source"]["kind"] == "forecast"
        assert roster["source"]["method"] == "due"
        assert roster["source"]["handle_seconds"] == pytest.approx(300.0)
        coverage = client.get(f"/api/v1/rosters/{roster['id']}/coverage").json()
        required = [i for i in coverage["intervals"] if i["required"]]
        # Monday's work arrives from 09:00 in New York, summer time since Sunday: 13:00 UTC;
        # the roster's window ends at Manila's midnight (16:00 UTC)
        starts = [datetime.fromisoformat(i["starts_at"]) for i in required]
        assert starts[0] == utc(2026, 3, 9, 13)
        assert all(utc(2026, 3, 9, 13) <= at < utc(2026, 3, 9, 16) for at in starts)
        assert all(i["required"] >= 1 for i in required)
        listed = client.get("/api/v1/rosters").json()
        assert [r["id"] for r in listed] == [roster["id"]]

        as_csv = client.get(f"/api/v1/rosters/{roster['id']}/export", params={"format": "csv"})
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(as_csv.text)))
        assert rows[0][:7] == [
            "agent",
            "agent_id",
            "center",
            "time_zone",
            "date",
            "weekday",
            "shift",
        ]
        assert len(rows) == 1 + roster["agents"] * 1
        as_xlsx = client.get(f"/api/v1/rosters/{roster['id']}/export", params={"format": "xlsx"})
        assert as_xlsx.status_code == 200
        sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
        assert sheet is not None
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][4] == "date"
        assert isinstance(values[1][4], datetime)  # a typed date
        on = [row for row in values[1:] if row[6] == "on"]
        for row in on:
            assert isinstance(row[7], time) and isinstance(row[10], float | int)


def test_who_may_and_what_is_named(
    api: Any, container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    _, token = planner
    body = {
        "name": "x",
        "first_date": MONDAY.isoformat(),
        "days": 1,
        "requirement": _nine_to_five_requirement(),
        "centers": ["MNL"],
        "time_limit_seconds": 1,
    }
    for who in ("client", "agent", "security"):  # security officers read the workforce only
        assert api(who).post("/api/v1/rosters", json=body).status_code == 403
    for who in ("client", "agent"):
        assert api(who).get("/api/v1/rosters").status_code == 403
    assert api("security").get("/api/v1/rosters").status_code == 200
    missing = uuid.uuid4()
    assert api("ops").get(f"/api/v1/rosters/{missing}").status_code == 404
    assert api("client").get(f"/api/v1/rosters/{missing}").status_code == 403
    with httpx.Client(
        base_url=api("ops").base_url, headers={"Authorization": f"Bearer {token}"}
    ) as planner_api:
        assert planner_api.post(f"/api/v1/rosters/{missing}/publish").status_code == 404
        assert "first_date" in _errors(
            planner_api.post("/api/v1/rosters", json={**body, "first_date": "2026-03-10"})
        )
        assert any(
            "days" in f
            for f in _errors(planner_api.post("/api/v1/rosters", json={**body, "days": 29}))
        )
        assert "centers" in _errors(
            planner_api.post("/api/v1/rosters", json={**body, "centers": ["XXX"]})
        )
        assert "requirement.0.start" in _errors(
            planner_api.post(
                "/api/v1/rosters",
                json={**body, "requirement": [{"start": "2026-03-09T01:05:00Z", "agents": 1}]},
            )
        )
        assert "rules.max_naps" in _errors(
            planner_api.post("/api/v1/rosters", json={**body, "rules": {"max_naps": 2}})
        )
        assert "process_id" in _errors(
            planner_api.post(
                "/api/v1/rosters", json={k: v for k, v in body.items() if k != "requirement"}
            )
        )
        # another client's process is as good as missing to nobody here: provider staff see all
        made = planner_api.post("/api/v1/rosters", json=body)
        assert made.status_code == 201, made.text
        assert api("client").get(f"/api/v1/rosters/{made.json()['id']}").status_code == 403
        assert api("agent").get(f"/api/v1/rosters/{made.json()['id']}/export").status_code == 403


def test_the_cli_plans_and_publishes(seeded: World, database_url: str) -> None:
    """On the real clock (the seeded weeks may lie in the past: a roster of nothing needed
    is still planned and published)."""
    from typer.testing import CliRunner

    from tandem.cli import app

    today = date.today()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    result = CliRunner().invoke(
        app,
        [
            "wfm",
            "roster",
            str(seeded.process_id),
            "--first-date",
            monday.isoformat(),
            "--days",
            "2",
            "--weeks",
            "4",
            "--time-limit",
            "2",
            "--aht-seconds",
            "300",
            "--publish",
            "--json",
        ],
        env={"TANDEM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert "(published)" in result.output
    assert '"state": "published"' in result.output.strip().splitlines()[-1]
    bad = CliRunner().invoke(
        app,
        ["wfm", "roster", str(seeded.process_id), "--first-date", "2026-03-10"],
        env={"TANDEM_DATABASE_URL": database_url},
    )
    assert bad.exit_code == 1 and "first_date" in bad.output


def test_a_plan_too_big_to_weigh_is_refused_before_solving(
    container: Container, world: World, planner: tuple[Principal, str], monkeypatch: Any
) -> None:
    """The solver's budget beside its time limit: the shift choices a plan holds (here the
    world's agents' starts over 7 days, above a limit lowered to 10 for the test)."""
    monkeypatch.setattr(rosters, "MAX_SHIFT_CHOICES", 10)
    principal, _ = planner
    spec = rosters.RosterSpec(
        name="too big",
        first_date=MONDAY,
        days=7,
        requirement={},
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    with pytest.raises(InvalidInput) as refused:
        rosters.plan_roster(lambda: _contexts(container, principal), spec, time_limit=1)
    (error,) = refused.value.extra["errors"]
    assert error["field"] == "days"
    assert "shift choices" in error["message"]
    with container.context(principal) as ctx:
        assert rosters.list_rosters(ctx).total == 0  # nothing written


def test_the_first_day_rests_after_the_shift_before_the_roster(
    container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    """An agent whose Sunday night shift (20:00 to 04:00 in Manila) ends on the roster's first
    morning may not start again before 15:00 (11 hours' rest), though their weekday mornings
    at 08:00 are theirs to work and the morning needs someone."""
    principal, _ = planner
    week = [(day, 8 * 60, 480) for day in range(5)]
    rested, _ = _agent_with_sign_in(container, world, "rested@provider.example", week)
    tired, _ = _agent_with_sign_in(
        container, world, "tired@provider.example", [*week, (6, 20 * 60, 480)]
    )
    spec = rosters.RosterSpec(
        name="Monday",
        first_date=MONDAY,
        days=1,
        requirement={
            at: 2
            for at in (datetime.fromisoformat(r["start"]) for r in _nine_to_five_requirement())
        },
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    with _contexts(container, principal) as ctx:
        prepared = rosters.prepare_roster(ctx, spec)
    agents = {agent.id: agent for agent in prepared.problem.agents}
    assert agents[str(rested)].free_from is None
    assert agents[str(tired)].free_from == datetime.combine(MONDAY, time(15), MANILA)
    summary = rosters.plan_roster(lambda: _contexts(container, principal), spec, time_limit=2)
    with _contexts(container, principal) as ctx:
        stored = {
            s.agent_id: s.starts_at.astimezone(MANILA)
            for s in ctx.session.scalars(
                select(RosterShift).where(RosterShift.roster_id == summary.id)
            )
        }
    assert stored[rested].hour in (7, 8, 9)  # the morning, as the requirement asks
    assert tired not in stored or stored[tired].hour >= 15
    tired_early = realistic.RosteredShift(str(tired), MONDAY, time(8), 480)
    assert any("too soon" in v for v in realistic.check(prepared.problem, [tired_early]).violations)


def _cebu(session: Any, hourly_cost: float = 9.5, currency: str = "USD") -> None:
    """A second center in Manila's time zone, with no agent yet."""
    session.add(
        DeliveryCenter(
            code="CEB",
            name="Cebu",
            country="PH",
            timezone="Asia/Manila",
            hourly_cost=hourly_cost,
            currency=currency,
            holidays=[],
        )
    )
    session.flush()


def test_days_in_a_row_before_a_roster_are_read_from_the_published_one(
    container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    """Rhea may work any day (her weekly pattern: every day at 09:00). The published roster of
    the week before gives her Tuesday to Saturday and Sunday off: the next roster starts her
    run at nought, where her weekly pattern alone would count six days."""
    principal, _ = planner
    with transaction(container.sessions) as session:
        _cebu(session)
        rhea = _agent(session, [world.client_id], center="CEB", shifts=EVERY_DAY)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    week = rosters.RosterSpec(
        name="Week one",
        first_date=MONDAY,
        days=7,
        requirement={
            start + timedelta(days=day) + k * rosters.QUARTER: 1
            for day in range(1, 6)  # Tuesday to Saturday: her week before ran to Sunday
            for k in range(32)
        },
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("CEB",),
    )
    next_week = replace(
        week,
        name="Week two",
        first_date=MONDAY + timedelta(days=7),
        days=1,
        requirement={start + timedelta(days=7) + k * rosters.QUARTER: 1 for k in range(32)},
    )

    def before_next_week() -> int:
        with _contexts(container, principal) as ctx:
            (agent,) = rosters.prepare_roster(ctx, next_week).problem.agents
        assert agent.id == str(rhea)
        return agent.worked_before

    assert before_next_week() == 6  # the weekly pattern: every day, as far as the rule looks
    planned = rosters.plan_roster(lambda: _contexts(container, principal), week, time_limit=3)
    with _contexts(container, principal) as ctx:
        days = [day is not None for day in rosters.roster_detail(ctx, planned.id).agents[0].days]
    assert days == [False, True, True, True, True, True, False]
    assert before_next_week() == 6  # a draft decides nothing
    with _contexts(container, principal) as ctx:
        rosters.publish_roster(ctx, planned.id)
    assert before_next_week() == 0  # the published week: Sunday off


# -- costs in several currencies -----------------------------------------------------------


def test_centers_paying_in_different_currencies_are_weighed_in_one(
    container: Container, world: World, planner: tuple[Principal, str]
) -> None:
    """Cebu pays 400 pesos an hour, Manila 9.50 dollars: Cebu is the cheaper at 0.0172 dollars
    a peso (6.88 an hour) and the dearer at 0.05 (20.00). Adding pesos to dollars as if they
    were one currency would put Manila's agent on the shift either way."""
    principal, _ = planner
    with transaction(container.sessions) as session:
        _cebu(session, hourly_cost=400, currency="PHP")
        cebu = _agent(session, [world.client_id], center="CEB", shifts=NINE_TO_FIVE)
        manila = _agent(session, [world.client_id], center="MNL", shifts=NINE_TO_FIVE)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    spec = rosters.RosterSpec(
        name="Two currencies",
        first_date=MONDAY,
        days=1,
        requirement={start + k * rosters.QUARTER: 1 for k in range(32)},
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL", "CEB"),
    )

    def planned(**money: Any) -> tuple[rosters.RosterSummary, list[RosterShift]]:
        summary = rosters.plan_roster(
            lambda: _contexts(container, principal), replace(spec, **money), time_limit=3
        )
        with _contexts(container, principal) as ctx:
            shifts = ctx.session.scalars(
                select(RosterShift).where(RosterShift.roster_id == summary.id)
            ).all()
        return summary, list(shifts)

    with pytest.raises(InvalidInput) as refused:
        planned()
    assert refused.value.extra["errors"][0]["field"] == "cost_currency"
    with pytest.raises(InvalidInput) as refused:
        planned(cost_currency="USD")
    assert refused.value.extra["errors"][0]["field"] == "exchange_rates.PHP"
    with pytest.raises(InvalidInput) as refused:
        planned(cost_currency="USD", exchange_rates={"PHP": Decimal(0)})
    assert refused.value.extra["errors"][0]["field"] == "exchange_rates.PHP"

    summary, (shift,) = planned(cost_currency="USD", exchange_rates={"PHP": Decimal("0.0172")})
    assert (shift.agent_id, shift.center_code) == (cebu, "CEB")
    assert shift.cost_cents == 8 * 400_00  # the shift's cost in the center's own pesos
    assert summary.cost_cents == 8 * 688  # the plan's in dollars
    assert summary.source["cost_currency"] == "USD"
    assert summary.source["exchange_rates"] == {"PHP": "0.0172"}

    _, (shift,) = planned(cost_currency="USD", exchange_rates={"PHP": Decimal("0.05")})
    assert (shift.agent_id, shift.cost_cents) == (manila, 8 * 950)
