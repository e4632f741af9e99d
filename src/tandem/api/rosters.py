"""Rosters over HTTP: plan one (from a process's forecast, or a requirement given), list
them, read one per agent and day or per interval (required against scheduled), publish it
(dispatch honours it from the agents' next claim), export it as CSV or Excel.

Reading: provider:workforce:read. Planning and publishing: provider:roster:manage
(workforce planners, ops managers, provider admins). A client's people and agents get 403.
Planning solves for up to `time_limit_seconds` (default 30) in the server's thread pool,
outside any database transaction; one plan at a time per server process (409 otherwise)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem.http import Paging, Services, paged, paged_responses, requires, uses
from tandem.reports import rosterplans
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.workforce import rosters

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

WorkforceReading = Annotated[Context, uses(Permission.WORKFORCE_READ)]
# Planning and publishing run their own transactions (the solver works between two).
RosterManager = Annotated[Principal, Depends(requires(Permission.ROSTER_MANAGE))]


class RequirementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="the 15-minute interval's start, with its offset (UTC)")
    agents: int = Field(ge=0, le=rosters.MAX_REQUIRED)


class LeaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID
    dates: list[date] = Field(max_length=rosters.MAX_DAYS)


CurrencyCode = Annotated[str, Field(pattern="^[A-Z]{3}$")]


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    first_date: date = Field(description="a Monday, the first local date of every center")
    days: int = Field(ge=1, le=rosters.MAX_DAYS)
    process_id: uuid.UUID | None = Field(
        None, description="its forecast is the requirement; its client's cleared agents plan"
    )
    requirement: list[RequirementIn] | None = Field(
        None, max_length=rosters.MAX_DAYS * 96 + 96, description="instead of a forecast"
    )
    centers: list[str] | None = Field(
        None, max_length=50, description="default: the centers of the agents cleared"
    )
    rules: dict[str, int] = Field(
        default_factory=dict, description="labour rules changed from their defaults"
    )
    method: Literal["due", "live"] | None = None
    service_level: float | None = Field(None, gt=0, lt=1)
    target_seconds: float | None = Field(None, ge=0, le=86_400)
    patience_seconds: float | None = Field(None, gt=0, le=86_400)
    max_occupancy: float | None = Field(None, gt=0, le=1)
    shrinkage: float | None = Field(None, ge=0, lt=1)
    aht_seconds: float | None = Field(None, gt=0, le=86_400)
    due_minutes: float | None = Field(None, gt=0, le=44_640)
    weeks: int = Field(8, ge=3, le=26, description="weeks of history the forecast reads")
    leave: list[LeaveIn] = Field(default_factory=list, max_length=10_000)
    holiday_volunteers: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)
    time_limit_seconds: float = Field(
        rosters.DEFAULT_TIME_LIMIT_S, ge=1, le=rosters.MAX_TIME_LIMIT_S
    )
    cost_currency: str | None = Field(
        None,
        pattern="^[A-Z]{3}$",
        description="the currency costs are weighed in, when the centers pay in several",
    )
    exchange_rates: dict[CurrencyCode, Annotated[Decimal, Field(gt=0, le=1_000_000)]] = Field(
        default_factory=dict,
        max_length=200,
        description='each other currency\'s value in cost_currency, e.g. {"PHP": 0.0172}',
    )


class RosterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    state: str = Field(description="draft, published or superseded")
    centers: list[str]
    first_date: date
    days: int
    agents: int
    shifts: int
    source: dict[str, Any] = Field(description="how the requirement was made")
    rules: dict[str, Any]
    cost_cents: int = Field(description="in source.cost_currency (each center's own: shifts)")
    objective_cents: int
    short_agent_intervals: int
    coverage: float = Field(description="share of required intervals fully staffed")
    solver_status: str
    solver_seconds: float
    created_by: uuid.UUID | None
    created_at: datetime
    published_by: uuid.UUID | None
    published_at: datetime | None
    deciding_days: int = Field(description="(center, date) pairs this roster decides now")


class PublicationOut(BaseModel):
    roster: RosterOut
    superseded: list[uuid.UUID]
    taken_over: int


class DayShiftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    local_date: date
    start: time = Field(description="local wall clock, in the agent's center's time zone")
    end: time
    end_date: date
    starts_at: datetime
    ends_at: datetime
    real_minutes: int
    night_minutes: int
    cost_cents: int


class AgentDaysOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agent_id: uuid.UUID
    name: str
    center_code: str
    timezone: str
    days: list[DayShiftOut | None] = Field(description="per date of the roster; null: off")
    minutes: int
    cost_cents: int


class CenterInfoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    timezone: str
    currency: str


class RosterDetailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    summary: RosterOut
    dates: list[date]
    centers: list[CenterInfoOut]
    agents: list[AgentDaysOut]


class IntervalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    starts_at: datetime
    required: int
    scheduled: int
    by_center: dict[str, int]


class CoverageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    roster_id: uuid.UUID
    start_utc: datetime
    interval_minutes: int
    centers: list[str]
    intervals: list[IntervalOut]


def _request(body: RosterIn) -> rosterplans.PlanRequest:
    leave: dict[uuid.UUID, list[date]] = {}
    for entry in body.leave:
        leave.setdefault(entry.agent_id, []).extend(entry.dates)
    return rosterplans.PlanRequest(
        name=body.name,
        first_date=body.first_date,
        days=body.days,
        process_id=body.process_id,
        requirement=(
            [(r.start, r.agents) for r in body.requirement]
            if body.requirement is not None
            else None
        ),
        centers=body.centers,
        rules=body.rules,
        method=body.method,
        service_level=body.service_level,
        target_seconds=body.target_seconds,
        patience_seconds=body.patience_seconds,
        max_occupancy=body.max_occupancy,
        shrinkage=body.shrinkage,
        aht_seconds=body.aht_seconds,
        due_minutes=body.due_minutes,
        weeks=body.weeks,
        leave=leave,
        holiday_volunteers=body.holiday_volunteers,
        time_limit_seconds=body.time_limit_seconds,
        cost_currency=body.cost_currency,
        exchange_rates=body.exchange_rates,
    )


@router.post("/rosters", response_model=RosterOut, status_code=201)
def plan_roster(body: RosterIn, services: Services, principal: RosterManager) -> Any:
    """Plan a draft roster: the requirement (the process's forecast as agents per 15-minute
    interval, or the list given), the agents cleared for the process's client at its
    centers, solved with CP-SAT under the labour rules at the least cost and penalty."""

    @contextmanager
    def contexts() -> Iterator[Context]:
        with services.context(principal) as ctx:
            yield ctx

    return rosterplans.plan(contexts, _request(body))


@router.get("/rosters", response_model=list[RosterOut], responses=paged_responses("rosters"))
def list_rosters(
    ctx: WorkforceReading,
    request: Request,
    response: Response,
    window: Paging,
    state: Annotated[
        Literal["draft", "published", "superseded"] | None, Query(description="only these")
    ] = None,
    sort: Annotated[
        rosters.RosterOrder,
        Query(description="by creation or first date (`-` first: latest first)"),
    ] = "-created",
) -> Any:
    page = rosters.list_rosters(ctx, state=state, sort=sort, window=window)
    return paged(request, response, page, window)


@router.get("/rosters/{roster_id}", response_model=RosterDetailOut)
def get_roster(roster_id: uuid.UUID, ctx: WorkforceReading) -> Any:
    """Per agent and local date: the shift in the agent's center's time zone, or a day off."""
    return rosters.roster_detail(ctx, roster_id)


@router.get("/rosters/{roster_id}/coverage", response_model=CoverageOut)
def roster_coverage(roster_id: uuid.UUID, ctx: WorkforceReading) -> Any:
    """Per 15-minute UTC interval: agents required, and scheduled in all and per center."""
    return rosters.roster_coverage(ctx, roster_id)


@router.post("/rosters/{roster_id}/publish", response_model=PublicationOut)
def publish_roster(roster_id: uuid.UUID, services: Services, principal: RosterManager) -> Any:
    """The roster decides its centers' dates from now on (taking them over from a roster
    published before); dispatch honours it from each agent's next claim."""
    with services.context(principal) as ctx:
        published = rosters.publish_roster(ctx, roster_id)
    for agent_id in published.agents:
        services.dispatcher.forget_agent(agent_id)
    return {
        "roster": published.roster,
        "superseded": published.superseded,
        "taken_over": published.taken_over,
    }


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/rosters/{roster_id}/export",
    response_class=Response,
    responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}}},
)
def export_roster(
    roster_id: uuid.UUID,
    ctx: WorkforceReading,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")] = "csv",
) -> Response:
    """Per agent and local date: the shift's local start and end, hours, night minutes and
    cost, or a day off; Excel cells typed (dates, times, numbers), text never a formula."""
    if format == "csv":
        name, text = rosters.roster_csv(ctx, roster_id)
        content: bytes = text.encode()
    else:
        name, content = rosters.roster_xlsx(ctx, roster_id)
    return Response(
        content,
        media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
