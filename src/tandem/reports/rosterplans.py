"""Planning a roster for a process: its forecast turned into the agents required per
15-minute UTC interval (`tandem.reports.staffing`: Erlang for live work, people per interval
to meet every due time for back-office work, an occupancy cap and shrinkage), the agents
cleared for its client who can serve its queue, at its client's centers (a plan that follows
the sun across them), solved and stored by `tandem.workforce.rosters`.

It lives with the read models because the forecast reads work items and the queue's
requirements are the catalog's, both above the workforce layer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tandem.catalog.service import get_process, queue_requirements
from tandem.core.errors import InvalidInput
from tandem.reports import forecasting, staffing
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.workforce import forecast as forecast_models
from tandem.workforce import rosters


def _refuse(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field_name}: {message}", errors=[{"field": field_name, "message": message}]
    )


@dataclass(frozen=True)
class PlanRequest:
    """A roster to plan. The requirement: `process_id`'s forecast (with the staffing
    assumptions given, the process's own otherwise), or `requirement` (agents per 15-minute
    UTC interval start) as given; with a process the agents are those cleared for its client
    who can serve its queue, else every active agent of `centers`."""

    name: str
    first_date: date  # a Monday
    days: int  # 1 to 28
    process_id: uuid.UUID | None = None
    requirement: Sequence[tuple[datetime, int]] | None = None
    centers: Sequence[str] | None = None  # None: the centers of the agents cleared
    rules: Mapping[str, int] = field(default_factory=dict)  # LabourRules fields to change
    method: staffing.Method | None = None  # due (back office) or live (Erlang)
    service_level: float | None = None
    target_seconds: float | None = None
    patience_seconds: float | None = None
    max_occupancy: float | None = None
    shrinkage: float | None = None
    aht_seconds: float | None = None
    due_minutes: float | None = None
    weeks: int = 8  # of history the forecast reads
    leave: Mapping[uuid.UUID, Sequence[date]] = field(default_factory=dict)
    holiday_volunteers: Sequence[uuid.UUID] = ()
    time_limit_seconds: float = rosters.DEFAULT_TIME_LIMIT_S
    cost_currency: str | None = None  # needed when the centers pay in different currencies
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)


def roster_spec(ctx: Context, request: PlanRequest) -> rosters.RosterSpec:
    """The request resolved: the requirement per UTC interval, the agents' filter, the rules."""
    rosters.check_days(request.first_date, request.days)
    rules = rosters.check_rules(request.rules)
    if request.process_id is None and request.requirement is None:
        raise _refuse("process_id", "name a process (its forecast) or give the requirement")
    client_id = None
    queue = None
    source: dict[str, Any] = {"kind": "explicit"}
    if request.process_id is not None:
        process = get_process(ctx, request.process_id)
        client_id = process.client_id
        queue = next(
            (
                q
                for q in queue_requirements(ctx.session, frozenset({client_id}))
                if q.routing_key == process.routing_key
            ),
            None,
        )
        if queue is None:
            raise _refuse("process_id", "the process is inactive")
        source = {
            "kind": "explicit",
            "process_id": str(process.id),
            "client_id": client_id,
            "process": process.name,
        }
    centers = list(request.centers or rosters.default_centers(ctx, client_id))
    if not centers:
        raise _refuse("centers", "no active agent is cleared for the process's client")
    start, count = rosters.roster_window(ctx, centers, request.first_date, request.days)
    if request.requirement is not None:
        requirement: dict[datetime, int] = {}
        for index, (at, agents) in enumerate(request.requirement):
            if at.tzinfo is None:
                raise _refuse(f"requirement.{index}.start", "must name its time zone (UTC)")
            requirement[at.astimezone(UTC)] = agents
        source["intervals"] = len(requirement)
    else:
        requirement, figures = _forecast_requirement(ctx, request, start, count)
        source = {**source, "kind": "forecast", **figures}
    return rosters.RosterSpec(
        name=request.name,
        first_date=request.first_date,
        days=request.days,
        requirement=requirement,
        source=source,
        client_id=client_id,
        queue=queue,
        centers=tuple(centers),
        rules=rules,
        leave={agent: frozenset(days) for agent, days in request.leave.items()},
        holiday_volunteers=frozenset(request.holiday_volunteers),
        cost_currency=request.cost_currency,
        exchange_rates=request.exchange_rates,
    )


def _forecast_requirement(
    ctx: Context, request: PlanRequest, start: datetime, count: int
) -> tuple[dict[datetime, int], dict[str, Any]]:
    """The people to schedule per UTC interval of [start, start + count quarters): each UTC
    interval takes the staff of the client's local wall-clock interval it falls in (the
    hour the clocks repeat in autumn asks for its staff twice, the hour they skip never)."""
    assert request.process_id is not None
    process = get_process(ctx, request.process_id)
    zone = ZoneInfo(ctx.session.get_one(Client, process.client_id).timezone)
    today = ctx.now.astimezone(zone).date()
    end_local = (start + count * rosters.QUARTER - timedelta(microseconds=1)).astimezone(zone)
    if request.first_date < today:
        raise _refuse("first_date", f"must be today ({today.isoformat()}) or later")
    days = (end_local.date() - today).days + 1
    if days > forecast_models.MAX_DAYS:
        raise _refuse(
            "first_date",
            f"the roster's last day is beyond the forecast's {forecast_models.MAX_DAYS} days",
        )
    found = forecasting.process_forecast(
        ctx, request.process_id, interval_minutes=15, weeks=request.weeks, days=days
    )
    assumptions = staffing.process_assumptions(process)
    changes = {
        name: getattr(request, name)
        for name in (
            "service_level",
            "target_seconds",
            "patience_seconds",
            "max_occupancy",
            "shrinkage",
            "aht_seconds",
            "due_minutes",
        )
        if getattr(request, name) is not None
    }
    if request.method is not None:
        changes["method"] = request.method
    assumptions = replace(assumptions, **changes)
    needed = staffing.staff_needed(found, assumptions)
    per_day = 96
    first = found.main.forecast.first_day
    requirement: dict[datetime, int] = {}
    for q in range(count):
        at = start + q * rosters.QUARTER
        local = at.astimezone(zone)
        index = (local.date() - first).days * per_day + (local.hour * 60 + local.minute) // 15
        if 0 <= index < len(needed) and needed[index].scheduled > 0:
            requirement[at] = needed[index].scheduled
    figures = {
        "timezone": found.timezone,
        "forecast_model": found.main.forecast.model,
        "weeks": request.weeks,
        "method": assumptions.method,
        "due_minutes": assumptions.due_minutes,
        "service_level": assumptions.service_level,
        "target_seconds": assumptions.target_seconds,
        "patience_seconds": assumptions.patience_seconds,
        "max_occupancy": assumptions.max_occupancy,
        "shrinkage": assumptions.shrinkage,
        "aht_seconds": assumptions.aht_seconds,
        "handle_seconds": found.handle_times.overall_seconds,
    }
    return requirement, figures


def plan(
    contexts: Callable[[], AbstractContextManager[Context]], request: PlanRequest
) -> rosters.RosterSummary:
    """Plan and store a draft roster: the spec and the problem read in one transaction, the
    solver run outside any, the draft written in another (`rosters.plan_roster`'s steps)."""
    if not 1 <= request.time_limit_seconds <= rosters.MAX_TIME_LIMIT_S:
        raise _refuse("time_limit_seconds", f"must be 1 to {rosters.MAX_TIME_LIMIT_S:g} seconds")
    with contexts() as ctx:
        prepared = rosters.prepare_roster(ctx, roster_spec(ctx, request))
    solved = rosters.solve_prepared(prepared, time_limit=request.time_limit_seconds)
    with contexts() as ctx:
        return rosters.store_roster(ctx, prepared, solved)
