"""When each agent is scheduled to work, as UTC intervals: their weekly shifts read in their
center's time zone, except on the local dates a published roster covers, where that roster's
shifts decide the agent's day (a day off included).

A weekly shift starts at a local wall-clock time and lasts `duration_minutes` of wall-clock
time, like a rostered shift (`rostering.realistic`): the real length is what UTC says, so an
8-hour night shift is 7 real hours the night the clocks go forward and 9 when they go back.
A local time the clocks skip is read as the instant the clock would have shown it (02:30 on
the spring-forward night is 03:30 summer time); an ambiguous one as its first occurrence."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tandem.workforce.eligibility import RosteredDays, WeeklyShift
from tandem.workforce.models import Agent, DeliveryCenter, Shift
from tandem.workforce.roster_models import RosterDay, RosterShift

Interval = tuple[datetime, datetime]


# -- pure ------------------------------------------------------------------------------------


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of `minute` minutes of wall-clock time after `day`'s local midnight
    (minute may exceed a day: a shift past midnight)."""
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minute)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def weekly_intervals(
    shifts: Iterable[WeeklyShift],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    *,
    skip_days: frozenset[date] = frozenset(),
) -> list[Interval]:
    """The weekly shifts as UTC intervals overlapping [start, end), clipped to it, sorted and
    merged where they touch or overlap. A shift belongs to the local day it starts on; days in
    `skip_days` (local dates a published roster decides) contribute nothing."""
    shifts = tuple(shifts)
    if not shifts or end <= start:
        return []
    first = start.astimezone(zone).date() - timedelta(days=1)  # a shift started the day before
    last = end.astimezone(zone).date()
    found: list[Interval] = []
    day = first
    while day <= last:
        if day not in skip_days:
            for shift in shifts:
                if shift.weekday != day.weekday():
                    continue
                begin = local_instant(day, shift.start_minute, zone)
                finish = local_instant(day, shift.start_minute + shift.duration_minutes, zone)
                found.append((begin, finish))
        day += timedelta(days=1)
    return clip_merge(found, start, end)


def clip_merge(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Intervals clipped to [start, end), empty ones dropped, sorted, merged where they touch."""
    clipped = sorted(
        (max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start)
    )
    merged: list[Interval] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


# -- reading ---------------------------------------------------------------------------------


def _decided(
    session: Session, centers: Iterable[str], first: date, last: date
) -> set[tuple[str, date]]:
    """The (center, local date) pairs from `first` to `last` a published roster decides."""
    return {
        (code, day)
        for code, day in session.execute(
            select(RosterDay.center_code, RosterDay.local_date).where(
                RosterDay.center_code.in_(sorted(set(centers))),
                RosterDay.local_date >= first,
                RosterDay.local_date <= last,
            )
        )
    }


def _rostered(
    session: Session, agent_ids: Iterable[uuid.UUID], first: date, last: date
) -> dict[uuid.UUID, list[Interval]]:
    """The agents' shifts in the published rosters that decide their dates (the roster a
    center's date belongs to in `roster_days`: the last published over it)."""
    found: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    for agent_id, _, begin, end in session.execute(_published_shifts(agent_ids, first, last)):
        found[agent_id].append((begin, end))
    return found


def _published_shifts(
    agent_ids: Iterable[uuid.UUID], first: date, last: date
) -> Select[uuid.UUID, date, datetime, datetime]:
    """(agent, local date, start, end) of the agents' shifts on `first` to `last` in the
    published rosters deciding those dates (`roster_days`)."""
    return (
        select(
            RosterShift.agent_id,
            RosterShift.local_date,
            RosterShift.starts_at,
            RosterShift.ends_at,
        )
        .join(
            RosterDay,
            (RosterDay.roster_id == RosterShift.roster_id)
            & (RosterDay.center_code == RosterShift.center_code)
            & (RosterDay.local_date == RosterShift.local_date),
        )
        .where(
            RosterShift.agent_id.in_(list(agent_ids)),
            RosterShift.local_date >= first,
            RosterShift.local_date <= last,
        )
    )


def rostered_days(
    session: Session, agent_id: uuid.UUID, center_code: str, timezone: str, now: datetime
) -> RosteredDays:
    """For dispatch: the agent's local dates from yesterday to tomorrow that a published
    roster decides, and their rostered shifts (yesterday's may run past midnight)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    first, last = today - timedelta(days=1), today + timedelta(days=1)
    dates = frozenset(day for _, day in _decided(session, [center_code], first, last))
    if not dates:
        return RosteredDays()
    shifts = _rostered(session, [agent_id], first, last).get(agent_id, [])
    return RosteredDays(dates, tuple(sorted(shifts)))


def scheduled(
    session: Session, agent_ids: Sequence[uuid.UUID] | None, start: datetime, end: datetime
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Each agent's scheduled time in [start, end) as UTC intervals, sorted and merged (all
    active agents when `agent_ids` is None; an agent with nothing scheduled maps to []).
    Weekly shifts apply outside the local dates a published roster covers for the agent's
    center; inside them, the roster's shifts."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    query = select(Agent.id, DeliveryCenter.timezone, Agent.center_code).join(
        DeliveryCenter, DeliveryCenter.code == Agent.center_code
    )
    if agent_ids is None:
        query = query.where(Agent.active.is_(True))
    else:
        query = query.where(Agent.id.in_(list(agent_ids)))
    agents = {row.id: (row.timezone, row.center_code) for row in session.execute(query)}
    result: dict[uuid.UUID, list[Interval]] = {agent_id: [] for agent_id in agents}
    if not agents or end <= start:
        return result
    weekly: dict[uuid.UUID, list[WeeklyShift]] = defaultdict(list)
    for agent_id, weekday, minute, minutes in session.execute(
        select(Shift.agent_id, Shift.weekday, Shift.start_minute, Shift.duration_minutes).where(
            Shift.agent_id.in_(list(agents))
        )
    ):
        weekly[agent_id].append(WeeklyShift(weekday, minute, minutes))
    # local dates that can hold a shift overlapping [start, end), in any zone: a day before
    first = (start - timedelta(days=2)).date()
    last = (end + timedelta(days=1)).date()
    decided = _decided(session, {center for _, center in agents.values()}, first, last)
    rostered = _rostered(session, list(agents), first, last) if decided else {}
    for agent_id, (zone_name, center) in agents.items():
        zone = ZoneInfo(zone_name)
        skip = frozenset(day for code, day in decided if code == center)
        weekly_part = weekly_intervals(weekly[agent_id], zone, start, end, skip_days=skip)
        result[agent_id] = clip_merge([*weekly_part, *rostered.get(agent_id, [])], start, end)
    return result


@dataclass(frozen=True)
class DatedShift:
    """One shift of an agent on the local date it starts, at their center."""

    local_date: date
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    rostered: bool  # from the published roster deciding the date (else a weekly shift)


def dated_shifts(
    session: Session, agent_ids: Sequence[uuid.UUID], first: date, last: date
) -> dict[uuid.UUID, list[DatedShift]]:
    """Each agent's shifts starting on their center's local dates `first` to `last`, by start:
    weekly shifts on the dates no published roster decides, the roster's on those one does
    (none there: a day off). Unlike `scheduled`, shifts that touch stay apart, each with its
    local date (what counts days worked, and what an agent reads as their schedule)."""
    found: dict[uuid.UUID, list[DatedShift]] = {agent_id: [] for agent_id in agent_ids}
    if not agent_ids or last < first:
        return found
    agents = {
        row.id: (ZoneInfo(row.timezone), row.center_code)
        for row in session.execute(
            select(Agent.id, DeliveryCenter.timezone, Agent.center_code)
            .join(DeliveryCenter, DeliveryCenter.code == Agent.center_code)
            .where(Agent.id.in_(list(agent_ids)))
        )
    }
    weekly: dict[uuid.UUID, list[WeeklyShift]] = defaultdict(list)
    for agent_id, weekday, minute, minutes in session.execute(
        select(Shift.agent_id, Shift.weekday, Shift.start_minute, Shift.duration_minutes).where(
            Shift.agent_id.in_(list(agents))
        )
    ):
        weekly[agent_id].append(WeeklyShift(weekday, minute, minutes))
    decided = _decided(session, {center for _, center in agents.values()}, first, last)
    if decided:
        for agent_id, day, begin, end in session.execute(_published_shifts(agents, first, last)):
            found[agent_id].append(DatedShift(day, begin, end, True))
    for agent_id, (zone, center) in agents.items():
        day = first
        while day <= last:
            if (center, day) not in decided:
                for shift in weekly[agent_id]:
                    if shift.weekday == day.weekday():
                        begin = local_instant(day, shift.start_minute, zone)
                        end = local_instant(day, shift.start_minute + shift.duration_minutes, zone)
                        found[agent_id].append(DatedShift(day, begin, end, False))
            day += timedelta(days=1)
        found[agent_id].sort(key=lambda s: s.starts_at)
    return found


def days_in_a_row_before(shifts: Sequence[DatedShift], day: date) -> int:
    """Local days worked in a row up to the day before `day` (0 when that one is off)."""
    worked = {s.local_date for s in shifts}
    run = 0
    while day - timedelta(days=run + 1) in worked:
        run += 1
    return run
