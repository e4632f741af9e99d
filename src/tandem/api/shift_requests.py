"""Agents' shift requests over HTTP: an agent asks for a day off or a shift start on one of
their center's dates ahead, reads and withdraws their own (`/me/shift-requests`: anyone who
claims work and has an agent profile); planners read every agent's, a page at a time
(`/shift-requests`: provider:roster:manage). Whether each was granted is recorded by the
roster planned over its date, and decided by the roster published over it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem.core import paging
from tandem.http import Paging, paged, paged_responses, uses
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.workforce import shift_requests

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

# An agent's own requests: whoever claims work, with their agent profile (else 403).
Asking = Annotated[Context, uses(Permission.WORK_CLAIM)]
Planning = Annotated[Context, uses(Permission.ROSTER_MANAGE)]

Status = Literal["pending", "granted", "not_granted", "withdrawn"]


class ShiftRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    local_date: date = Field(description="a date at your center, from tomorrow")
    kind: Literal["day_off", "shift_start"] = Field(
        description="day_off: please no shift that day; shift_start: a shift starting then"
    )
    start_time: time | None = Field(
        None, description="shift_start only: the local start, HH:00 or HH:30"
    )
    note: str | None = Field(None, max_length=shift_requests.MAX_NOTE)


class ShiftRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID
    agent_name: str
    center_code: str
    local_date: date
    kind: str
    start_time: time | None = Field(description="local wall clock at the agent's center")
    note: str | None
    created_at: datetime
    status: str = Field(description="pending, granted, not_granted or withdrawn")
    roster_id: uuid.UUID | None = Field(description="the roster that decided it")
    roster_state: str | None = Field(description="that roster's: draft, published, superseded")
    decided_at: datetime | None
    withdrawn_at: datetime | None


@router.get(
    "/me/shift-requests",
    response_model=list[ShiftRequestOut],
    responses=paged_responses("requests"),
)
def my_shift_requests(
    ctx: Asking,
    request: Request,
    response: Response,
    window: Paging,
    first: Annotated[
        date | None, Query(alias="from", description="default: today at your center")
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
) -> Any:
    """Your requests from a date on (today at your center unless given), withdrawn ones
    included, by date."""
    found = paging.cut(shift_requests.my_requests(ctx, first=first, last=last), window)
    return paged(request, response, found, window)


@router.post("/me/shift-requests", response_model=ShiftRequestOut, status_code=201)
def make_shift_request(body: ShiftRequestIn, ctx: Asking) -> Any:
    """Ask for a day off, or a shift starting at a local time, on one of your center's dates
    from tomorrow to 90 days ahead: one request a date, at most 3 a Monday-to-Sunday week."""
    return shift_requests.make_request(
        ctx,
        local_date=body.local_date,
        kind=body.kind,
        start_time=body.start_time,
        note=body.note,
    )


@router.delete("/me/shift-requests/{request_id}", response_model=ShiftRequestOut)
def withdraw_shift_request(request_id: uuid.UUID, ctx: Asking) -> Any:
    """Withdraw one of your requests for a date ahead (409 once the published roster has
    decided it)."""
    return shift_requests.withdraw_request(ctx, request_id)


@router.get(
    "/shift-requests",
    response_model=list[ShiftRequestOut],
    responses=paged_responses("shift requests"),
)
def list_shift_requests(
    ctx: Planning,
    request: Request,
    response: Response,
    window: Paging,
    center: Annotated[str | None, Query(max_length=16, description="a center's code")] = None,
    first: Annotated[date | None, Query(alias="from", description="local date, inclusive")] = None,
    last: Annotated[date | None, Query(alias="to", description="local date, inclusive")] = None,
    status: Status | None = None,
) -> Any:
    """Every agent's requests, by date, center and agent, one page at a time;
    `X-Total-Count` says how many match in all."""
    page = shift_requests.list_requests(
        ctx, center=center, first=first, last=last, status=status, window=window
    )
    return paged(request, response, page, window)
