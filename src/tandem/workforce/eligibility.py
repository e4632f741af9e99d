"""Which queues an agent may pull from right now. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")


@dataclass(frozen=True)
class WeeklyShift:
    weekday: int  # 0 = Monday, in the center's local calendar
    start_minute: int
    duration_minutes: int


@dataclass(frozen=True)
class RosteredDays:
    """The agent's local dates (near now) that a published roster decides, and their rostered
    shifts on them as UTC intervals: on those dates the weekly shifts do not apply (a date
    with no shift is a day off)."""

    dates: frozenset[date] = frozenset()
    shifts: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class QueueRequirements:
    """What a process asks of the agents who work its items."""

    client_id: int
    routing_key: str
    skills: Mapping[str, int]
    language: str | None = None
    min_cefr: str | None = None
    judged: bool = False  # a decision process: its referrals are judged, by analysts


@dataclass(frozen=True)
class AgentProfile:
    skills: Mapping[str, int]
    languages: Mapping[str, str]  # language -> CEFR level
    cleared_clients: frozenset[int]
    center_timezone: str
    shifts: tuple[WeeklyShift, ...]
    judges: bool = True  # may judge referrals (an analyst's role, or no sign-in: a simulation)
    rostered: RosteredDays = RosteredDays()  # the published roster's dates near now


def on_shift(
    shifts: Iterable[WeeklyShift],
    timezone: str,
    now: datetime,
    rostered: RosteredDays | None = None,
) -> bool:
    """True when `now` falls in one of the weekly shifts, read in the center's time zone,
    or in a rostered shift. A shift that runs past midnight belongs to the day it starts on;
    on a local date a published roster decides (`rostered.dates`) only its shifts count.
    """
    if rostered is not None and any(a <= now < b for a, b in rostered.shifts):
        return True
    decided = rostered.dates if rostered is not None else frozenset()
    local = now.astimezone(ZoneInfo(timezone))
    for shift in shifts:
        for days_back in (0, 1):
            day = local.date() - timedelta(days=days_back)
            if day.weekday() != shift.weekday or day in decided:
                continue
            start = datetime.combine(day, datetime.min.time(), tzinfo=local.tzinfo) + timedelta(
                minutes=shift.start_minute
            )
            if start <= local < start + timedelta(minutes=shift.duration_minutes):
                return True
    return False


def can_serve(agent: AgentProfile, queue: QueueRequirements) -> bool:
    if queue.client_id not in agent.cleared_clients:
        return False
    if queue.judged and not agent.judges:
        return False
    if any(agent.skills.get(skill, 0) < level for skill, level in queue.skills.items()):
        return False
    if queue.language is not None:
        held = agent.languages.get(queue.language)
        if held is None:
            return False
        if queue.min_cefr and CEFR_LEVELS.index(held) < CEFR_LEVELS.index(queue.min_cefr):
            return False
    return True


def servable_queues(
    agent: AgentProfile, queues: Iterable[QueueRequirements], now: datetime
) -> list[tuple[int, str]]:
    """The (client, routing key) pairs this agent may claim from at `now`."""
    if not on_shift(agent.shifts, agent.center_timezone, now, agent.rostered):
        return []
    return sorted({(q.client_id, q.routing_key) for q in queues if can_serve(agent, q)})
