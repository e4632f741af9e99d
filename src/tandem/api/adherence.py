"""Adherence and intraday (tandem.reports.adherence), and an agent's own presence
(tandem.workforce.presence): a break, and coming back.

A center's day and a process's rest of today are the planner's (provider:workforce:read);
who is out of adherence now is the floor's (provider:operations:read). A client's people
get 403: presence and adherence are per agent, never per client."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from tandem.core import paging
from tandem.http import Paging, Services, paged, paged_responses, requires, uses
from tandem.reports import adherence as reports
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.workforce import adherence, presence

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

WorkforceReading = Annotated[Context, uses(Permission.WORKFORCE_READ)]
FloorReading = Annotated[Context, uses(Permission.OPERATIONS_READ)]
Claiming = Annotated[Context, uses(Permission.WORK_CLAIM)]
Claimer = Annotated[Principal, Depends(requires(Permission.WORK_CLAIM))]

STATES = "working, idle (available), break or signed_out"


def _idle(services: Services) -> timedelta:
    return timedelta(minutes=services.settings.session_idle_minutes)


class MinutesOut(BaseModel):
    working: float
    idle: float
    break_: float = Field(alias="break")
    signed_out: float

    model_config = {"populate_by_name": True}


def _minutes(minutes: dict[adherence.Actual, float]) -> MinutesOut:
    return MinutesOut(**{state.value: round(value, 3) for state, value in minutes.items()})


class TotalsOut(BaseModel):
    scheduled_minutes: float
    minutes: MinutesOut
    adherent_scheduled_minutes: float = Field(description="in adherence while scheduled")
    off_schedule_minutes: float = Field(description="signed in while not scheduled")
    adherence: float | None = Field(description="in adherence while scheduled / scheduled")
    conformance: float | None = Field(description="(working + idle) / scheduled")


def _totals(totals: adherence.Totals) -> TotalsOut:
    return TotalsOut(
        scheduled_minutes=round(totals.scheduled_minutes, 3),
        minutes=_minutes(totals.minutes),
        adherent_scheduled_minutes=round(totals.adherent_scheduled_minutes, 3),
        off_schedule_minutes=round(totals.off_schedule_minutes, 3),
        adherence=totals.adherence,
        conformance=totals.conformance,
    )


class IntervalOut(BaseModel):
    start: datetime = Field(description="in the center's time zone")
    end: datetime
    scheduled_minutes: float
    state: str = Field(description=f"the state of most of the interval: {STATES}")
    minutes: MinutesOut
    in_adherence: bool


class AgentDayOut(BaseModel):
    agent_id: uuid.UUID
    name: str
    scheduled: list[tuple[datetime, datetime]] = Field(description="the day's shifts, UTC")
    intervals: list[IntervalOut]
    totals: TotalsOut


class CenterDayOut(BaseModel):
    center: str
    name: str
    timezone: str
    date: date
    interval_minutes: int
    start: datetime
    until: datetime = Field(description="the day's end, or now while it goes on")
    agents: list[AgentDayOut]
    totals: TotalsOut


@router.get("/adherence", response_model=CenterDayOut, response_model_by_alias=True)
def center_adherence(
    ctx: WorkforceReading,
    services: Services,
    center: Annotated[str, Query(min_length=1, max_length=16, description="a center's code")],
    date: Annotated[date, Query(description="the center's local day, YYYY-MM-DD")],
    interval_minutes: Annotated[int, Query(description="15 or 30")] = 15,
) -> CenterDayOut:
    """Scheduled against actual per agent and interval for a center's local day (so far),
    with adherence and conformance per agent and for the center."""
    found = reports.center_day(
        ctx, center, date, interval_minutes=interval_minutes, idle=_idle(services)
    )
    zone = ZoneInfo(found.timezone)
    return CenterDayOut(
        center=found.center,
        name=found.name,
        timezone=found.timezone,
        date=found.day,
        interval_minutes=found.interval_minutes,
        start=found.start,
        until=found.until,
        agents=[
            AgentDayOut(
                agent_id=row.agent_id,
                name=row.name,
                scheduled=row.scheduled,
                intervals=[
                    IntervalOut(
                        start=i.start.astimezone(zone),
                        end=i.end.astimezone(zone),
                        scheduled_minutes=round(i.scheduled_minutes, 3),
                        state=i.state.value,
                        minutes=_minutes(i.minutes),
                        in_adherence=i.in_adherence,
                    )
                    for i in row.intervals
                ],
                totals=_totals(row.totals),
            )
            for row in found.agents
        ],
        totals=_totals(found.totals),
    )


class OutNowOut(BaseModel):
    agent_id: uuid.UUID
    name: str
    center: str
    state: str = Field(description=STATES)
    since: datetime
    scheduled: bool
    reason: str = Field(description="not working (scheduled) or off schedule (not scheduled)")


@router.get("/adherence/now", response_model=list[OutNowOut], responses=paged_responses("agents"))
def adherence_now(
    ctx: FloorReading,
    services: Services,
    request: Request,
    response: Response,
    window: Paging,
    center: Annotated[str | None, Query(max_length=16)] = None,
) -> list[OutNowOut]:
    """The agents out of adherence at this moment, the longest first."""
    found = reports.out_of_adherence_now(ctx, center=center, idle=_idle(services))
    return [
        OutNowOut(
            agent_id=out.agent_id,
            name=out.name,
            center=out.center,
            state=out.state.value,
            since=out.since,
            scheduled=out.scheduled,
            reason=out.reason,
        )
        for out in paged(request, response, paging.cut(found, window), window)
    ]


class IntradayIntervalOut(BaseModel):
    start: datetime = Field(description="in the client's time zone")
    arrivals: float = Field(description="reforecast")
    aht_seconds: float
    agents: int = Field(description="working, after the occupancy cap")
    needed: int = Field(description="people to schedule, after shrinkage")
    scheduled: float = Field(description="people scheduled who may serve the process")
    gap: float = Field(description="scheduled - needed: below 0 understaffed")
    staffed: Literal["under", "over", "even"]


class IntradayOut(BaseModel):
    process_id: uuid.UUID
    timezone: str
    interval_minutes: int
    today_factor: float
    today_elapsed: int
    eligible_agents: int
    intervals: list[IntradayIntervalOut]


@router.get("/processes/{process_id}/intraday", response_model=IntradayOut)
def process_intraday(
    ctx: WorkforceReading,
    process_id: uuid.UUID,
    interval_minutes: Annotated[int, Query(description="15 or 30")] = 15,
    weeks: Annotated[int, Query(description="weeks of history read (3 or more)")] = 8,
) -> dict[str, Any]:
    """The rest of today: the reforecast turned into the people needed per interval, against
    the people scheduled who may serve the process."""
    found = reports.intraday(ctx, process_id, interval_minutes=interval_minutes, weeks=weeks)
    return {
        "process_id": found.process_id,
        "timezone": found.timezone,
        "interval_minutes": found.interval_minutes,
        "today_factor": found.today_factor,
        "today_elapsed": found.today_elapsed,
        "eligible_agents": found.eligible_agents,
        "intervals": [vars(row) for row in found.intervals],
    }


class PresenceIn(BaseModel):
    state: Literal["available", "break"] = Field(
        description="break: take a break (no claims until you come back); available: come back"
    )


class PresenceOut(BaseModel):
    state: str = Field(description="idle (available), break or signed_out")
    since: datetime | None
    means: str | None = Field(description="sign_in, sign_out, console, api, or expiry")


def _presence(found: presence.Presence) -> PresenceOut:
    return PresenceOut(state=found.state.value, since=found.since, means=found.means)


@router.get("/me/presence", response_model=PresenceOut)
def my_presence(ctx: Claiming, services: Services) -> PresenceOut:
    """Your presence now."""
    return _presence(
        presence.current(ctx.session, ctx.principal.agent(), now=ctx.now, idle=_idle(services))
    )


@router.put("/me/presence", response_model=PresenceOut)
def set_my_presence(body: PresenceIn, principal: Claimer, services: Services) -> PresenceOut:
    """Take a break (your claims are refused with 409 until you come back), or come back."""
    with services.context(principal) as ctx:
        found = presence.set_presence(ctx, body.state, means="api", idle=_idle(services))
    services.dispatcher.forget_agent(principal.agent())  # committed: claims read it afresh
    return _presence(found)
