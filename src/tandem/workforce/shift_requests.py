"""Agents' shift requests: a day off, or a shift starting at a local time, on one local date
at their center. Soft wishes the roster solver weighs below coverage
(`rostering.realistic`); a roster planned over the date records whether each was granted
(`rosters.store_roster`), and the roster published over it decides for good
(`rosters.publish_roster`).

An agent makes, reads and withdraws their own: from tomorrow (their center's date) to
`MAX_DAYS_AHEAD` days ahead, one per date, at most `MAX_PER_WEEK` a Monday-to-Sunday week.
Planners read every agent's. Not audited (like presence: the agent's own small wishes,
read by planning); a withdrawn request stays, marked, for the planner's view."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from tandem.core import paging
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.tenancy.context import Context
from tandem.workforce.models import Agent, DeliveryCenter
from tandem.workforce.roster_models import (
    REQUEST_KINDS,
    REQUEST_STATUSES,
    Roster,
    ShiftRequest,
)
from tandem.workforce.schedule import dated_shifts

MAX_DAYS_AHEAD = 90  # the furthest date an agent may ask for, from today at their center
MAX_PER_WEEK = 3  # requests not withdrawn in one local Monday-to-Sunday week
MAX_NOTE = 200
START_GRID_MINUTES = 30  # rostered shifts start on the half hour
OPEN = ("pending", "granted", "not_granted")  # not withdrawn: what planning weighs


def _refuse(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field_name}: {message}", errors=[{"field": field_name, "message": message}]
    )


@dataclass(frozen=True)
class RequestView:
    id: uuid.UUID
    agent_id: uuid.UUID
    agent_name: str
    center_code: str
    local_date: date
    kind: str
    start_time: time | None  # shift_start: local wall clock at the center
    note: str | None
    created_at: datetime
    status: str  # pending, granted, not_granted, withdrawn
    roster_id: uuid.UUID | None  # the roster that decided it
    roster_state: str | None  # that roster's: draft, published or superseded
    decided_at: datetime | None
    withdrawn_at: datetime | None


def _query() -> Select[ShiftRequest, str, str, str]:
    """Each request with its agent's name and center and its deciding roster's state."""
    return (
        select(ShiftRequest, Agent.name, Agent.center_code, Roster.state)
        .join(Agent, Agent.id == ShiftRequest.agent_id)
        .outerjoin(Roster, Roster.id == ShiftRequest.roster_id)
    )


def _view(row: ShiftRequest, name: str, center: str, roster_state: str | None) -> RequestView:
    start = row.start_minute
    return RequestView(
        id=row.id,
        agent_id=row.agent_id,
        agent_name=name,
        center_code=center,
        local_date=row.local_date,
        kind=row.kind,
        start_time=time(start // 60, start % 60) if start is not None else None,
        note=row.note,
        created_at=row.created_at,
        status=row.status,
        roster_id=row.roster_id,
        roster_state=roster_state,
        decided_at=row.decided_at,
        withdrawn_at=row.withdrawn_at,
    )


def agent_today(session: Session, agent_id: uuid.UUID, now: datetime) -> tuple[date, str]:
    """The agent's local date now at their center, and the center's time zone."""
    zone = session.scalar(
        select(DeliveryCenter.timezone)
        .join(Agent, Agent.center_code == DeliveryCenter.code)
        .where(Agent.id == agent_id)
    )
    if zone is None:
        raise NotFound("no agent profile")
    return now.astimezone(ZoneInfo(zone)).date(), zone


# -- the agent's own -----------------------------------------------------------------------------


def my_requests(
    ctx: Context, *, first: date | None = None, last: date | None = None
) -> list[RequestView]:
    """The calling agent's requests from `first` (default: today at their center) to `last`
    (inclusive), withdrawn ones included, by date."""
    agent_id = ctx.principal.agent()
    if first is None:
        first, _ = agent_today(ctx.session, agent_id, ctx.now)
    _check_range(first, last)
    query = _query().where(ShiftRequest.agent_id == agent_id, ShiftRequest.local_date >= first)
    if last is not None:
        query = query.where(ShiftRequest.local_date <= last)
    query = query.order_by(ShiftRequest.local_date, ShiftRequest.created_at, ShiftRequest.id)
    return [_view(*row) for row in ctx.session.execute(query)]


def make_request(
    ctx: Context,
    *,
    local_date: date,
    kind: str,
    start_time: time | None = None,
    note: str | None = None,
) -> RequestView:
    """The calling agent asks for a day off, or a shift starting at `start_time`, on one of
    their center's local dates."""
    session = ctx.session
    agent_id = ctx.principal.agent()
    # One request at a time per agent: the checks below read what the insert changes.
    session.scalar(select(Agent.id).where(Agent.id == agent_id).with_for_update())
    today, _ = agent_today(session, agent_id, ctx.now)
    if kind not in REQUEST_KINDS:
        raise _refuse("kind", f"must be one of {', '.join(REQUEST_KINDS)}")
    if local_date <= today:
        raise _refuse("local_date", f"must be after today ({today.isoformat()} at your center)")
    if local_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise _refuse("local_date", f"must be at most {MAX_DAYS_AHEAD} days ahead")
    start_minute = None
    if kind == "shift_start":
        if start_time is None:
            raise _refuse("start_time", "a shift_start request names its start (HH:MM)")
        start_minute = start_time.hour * 60 + start_time.minute
        if start_time.second or start_time.microsecond or start_minute % START_GRID_MINUTES:
            raise _refuse("start_time", "must be on the hour or the half hour (HH:00 or HH:30)")
    elif start_time is not None:
        raise _refuse("start_time", "only a shift_start request names a start time")
    if note is not None:
        note = note.strip() or None
        if note is not None and len(note) > MAX_NOTE:
            raise _refuse("note", f"must be at most {MAX_NOTE} characters")
    open_ = ShiftRequest.status.in_(OPEN)
    same_day = session.scalar(
        select(func.count())
        .select_from(ShiftRequest)
        .where(ShiftRequest.agent_id == agent_id, ShiftRequest.local_date == local_date, open_)
    )
    if same_day:
        raise _refuse("local_date", "you already asked for this date: withdraw that request first")
    monday = local_date - timedelta(days=local_date.weekday())
    in_week = session.scalar(
        select(func.count())
        .select_from(ShiftRequest)
        .where(
            ShiftRequest.agent_id == agent_id,
            ShiftRequest.local_date >= monday,
            ShiftRequest.local_date < monday + timedelta(days=7),
            open_,
        )
    )
    if (in_week or 0) >= MAX_PER_WEEK:
        raise _refuse(
            "local_date",
            f"at most {MAX_PER_WEEK} requests a week (Monday to Sunday): withdraw one first",
        )
    row = ShiftRequest(
        agent_id=agent_id,
        local_date=local_date,
        kind=kind,
        start_minute=start_minute,
        note=note,
        created_at=ctx.now,
        status="pending",
    )
    session.add(row)
    session.flush()
    return _one(session, row.id)


def withdraw_request(ctx: Context, request_id: uuid.UUID) -> RequestView:
    """The calling agent withdraws one of their requests for a date still ahead. One the
    roster published over its date decided stays: the schedule is out (ask a planner)."""
    session = ctx.session
    agent_id = ctx.principal.agent()
    row = session.scalar(
        select(ShiftRequest)
        .where(ShiftRequest.id == request_id, ShiftRequest.agent_id == agent_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"shift request {request_id} not found")
    if row.status == "withdrawn":
        return _one(session, row.id)
    today, _ = agent_today(session, agent_id, ctx.now)
    if row.local_date <= today:
        raise Conflict(f"the request's date {row.local_date.isoformat()} is no longer ahead")
    if row.roster_id is not None:
        state = session.scalar(select(Roster.state).where(Roster.id == row.roster_id))
        if state == "published":
            raise Conflict("the published roster has decided this date: ask your planner")
    row.status = "withdrawn"
    row.withdrawn_at = ctx.now
    session.flush()
    return _one(session, row.id)


def _one(session: Session, request_id: uuid.UUID) -> RequestView:
    return _view(*session.execute(_query().where(ShiftRequest.id == request_id)).one())


# -- planners ------------------------------------------------------------------------------------


def _check_range(first: date | None, last: date | None) -> None:
    if first is not None and last is not None and last < first:
        raise _refuse("to", "must not be before from")


def list_requests(
    ctx: Context,
    *,
    center: str | None = None,
    first: date | None = None,
    last: date | None = None,
    status: str | None = None,
    window: paging.Window = paging.Window(),
) -> paging.Page[RequestView]:
    """Every agent's requests (of one center; from `first` to `last` inclusive; in one
    status), by date, center and agent, one page at a time with how many match in all."""
    if status is not None and status not in REQUEST_STATUSES:
        raise _refuse("status", f"must be one of {', '.join(REQUEST_STATUSES)}")
    _check_range(first, last)
    if center is not None and ctx.session.get(DeliveryCenter, center) is None:
        raise _refuse("center", f"unknown delivery center {center}")
    query = _query()
    if center is not None:
        query = query.where(Agent.center_code == center)
    if first is not None:
        query = query.where(ShiftRequest.local_date >= first)
    if last is not None:
        query = query.where(ShiftRequest.local_date <= last)
    if status is not None:
        query = query.where(ShiftRequest.status == status)
    query = query.order_by(ShiftRequest.local_date, Agent.center_code, Agent.name, ShiftRequest.id)
    return paging.read(ctx.session, cast("Select[Any]", query), window).map(lambda row: _view(*row))


def decisions_of(ctx: Context, roster_id: uuid.UUID) -> dict[uuid.UUID, list[RequestView]]:
    """Per agent, the requests a roster decided (granted or not), by date: the planner's
    roster page."""
    found: dict[uuid.UUID, list[RequestView]] = defaultdict(list)
    query = (
        _query()
        .where(ShiftRequest.roster_id == roster_id)
        .order_by(ShiftRequest.local_date, ShiftRequest.id)
    )
    for row in ctx.session.execute(query):
        view = _view(*row)
        found[view.agent_id].append(view)
    return found


# -- planning's side (tandem.workforce.rosters) ---------------------------------------------------


def open_requests(
    session: Session, agent_ids: Sequence[uuid.UUID], first: date, last: date
) -> dict[uuid.UUID, list[ShiftRequest]]:
    """The agents' requests not withdrawn on local dates `first` to `last`: pending, or
    decided by a roster planned before (a plan again weighs them again)."""
    found: dict[uuid.UUID, list[ShiftRequest]] = defaultdict(list)
    if not agent_ids:
        return found
    for row in session.scalars(
        select(ShiftRequest)
        .where(
            ShiftRequest.agent_id.in_(list(agent_ids)),
            ShiftRequest.local_date >= first,
            ShiftRequest.local_date <= last,
            ShiftRequest.status.in_(OPEN),
        )
        .order_by(ShiftRequest.local_date, ShiftRequest.id)
    ):
        found[row.agent_id].append(row)
    return found


def record_decisions(
    session: Session,
    roster_id: uuid.UUID,
    granted: Mapping[uuid.UUID, bool],
    now: datetime,
    *,
    final: bool,
) -> int:
    """Record the roster's answer to each request (id -> granted) still open. A draft's
    (`final` False) leaves alone those a published roster decided; a publication's
    (`final` True) decides them all. How many were recorded."""
    if not granted:
        return 0
    conditions: list[ColumnElement[bool]] = [
        ShiftRequest.id.in_(list(granted)),
        ShiftRequest.status.in_(OPEN),
    ]
    if not final:
        published = select(Roster.id).where(Roster.state == "published")
        conditions.append(
            ShiftRequest.roster_id.is_(None) | ShiftRequest.roster_id.not_in(published)
        )
    recorded = 0
    for answer in (True, False):
        ids = [request_id for request_id, yes in granted.items() if yes is answer]
        if not ids:
            continue
        result = session.execute(
            update(ShiftRequest)
            .where(*conditions, ShiftRequest.id.in_(ids))
            .values(
                status="granted" if answer else "not_granted",
                roster_id=roster_id,
                decided_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        recorded += result.rowcount  # type: ignore[attr-defined]
    return recorded


# -- the agent's page: their schedule and requests ----------------------------------------------

SCHEDULE_DAYS = 14  # what "My schedule" shows, today first


@dataclass(frozen=True)
class ScheduledShift:
    start: time  # local wall clock at the center
    end: time
    ends_next_day: bool
    rostered: bool  # from the published roster (else the weekly pattern)


@dataclass(frozen=True)
class ScheduleDay:
    local_date: date
    shifts: list[ScheduledShift]  # empty: a day off


@dataclass(frozen=True)
class MySchedule:
    center_code: str
    center_name: str
    timezone: str
    today: date
    days: list[ScheduleDay]
    requests: list[RequestView]  # from tomorrow on
    first_askable: date
    last_askable: date


def my_schedule(ctx: Context, *, days: int = SCHEDULE_DAYS) -> MySchedule:
    """The calling agent's shifts from today for `days` local dates at their center (the
    published roster's where one decides, else their weekly shifts), and their requests."""
    session = ctx.session
    agent_id = ctx.principal.agent()
    today, zone_name = agent_today(session, agent_id, ctx.now)
    zone = ZoneInfo(zone_name)
    code, name = session.execute(
        select(DeliveryCenter.code, DeliveryCenter.name)
        .join(Agent, Agent.center_code == DeliveryCenter.code)
        .where(Agent.id == agent_id)
    ).one()
    last = today + timedelta(days=days - 1)
    dated = dated_shifts(session, [agent_id], today, last)[agent_id]
    by_day: dict[date, list[ScheduledShift]] = defaultdict(list)
    for shift in dated:
        begin, end = shift.starts_at.astimezone(zone), shift.ends_at.astimezone(zone)
        by_day[shift.local_date].append(
            ScheduledShift(
                begin.time().replace(tzinfo=None),
                end.time().replace(tzinfo=None),
                end.date() > shift.local_date,
                shift.rostered,
            )
        )
    return MySchedule(
        center_code=code,
        center_name=name,
        timezone=zone_name,
        today=today,
        days=[
            ScheduleDay(today + timedelta(days=d), by_day.get(today + timedelta(days=d), []))
            for d in range(days)
        ],
        requests=my_requests(ctx, first=today + timedelta(days=1)),
        first_askable=today + timedelta(days=1),
        last_askable=today + timedelta(days=MAX_DAYS_AHEAD),
    )
