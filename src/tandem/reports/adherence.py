"""Adherence and intraday staffing, for the planner's and the operations floor's pages.

- `center_day`: a delivery center's local day so far, per agent and interval: scheduled
  (tandem.workforce.schedule) against actual (presence, console sessions, leases; the
  states and definitions are tandem.workforce.adherence's), with each agent's and the
  center's adherence and conformance.
- `out_of_adherence_now`: the agents out of adherence at this moment (scheduled but on a
  break or signed out, or signed in while not scheduled), for the operations floor.
- `intraday`: a process's rest of today: the reforecast (tandem.reports.forecasting) turned
  into the people needed per interval (tandem.reports.staffing, on tandem.workforce.erlang)
  against the agents scheduled who may serve the process; under or over per interval.

It lives with the read models because it reads work item events (leases), which the
workforce layer sits below. Provider staff only: nothing here is a client's."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.errors import InvalidInput
from tandem.reports import forecasting, staffing
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client, User
from tandem.tenancy.permissions import ROLES, Permission
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.workforce import adherence, presence
from tandem.workforce.adherence import Actual, Interval, Span
from tandem.workforce.eligibility import AgentProfile, QueueRequirements, can_serve
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
)
from tandem.workforce.schedule import scheduled

# A lease read for a period may have begun this long before it (its claim's event is read
# from then on); a lease held longer than a day, by heartbeats, is cut at the period's start.
LEASE_LOOKBACK = timedelta(days=1)
_KEYS_PER_QUERY = 500
DAYS = (date(2000, 1, 1), date(2100, 12, 31))  # the days a center's day may be asked for


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


# -- the actual timelines --------------------------------------------------------------------


def lease_intervals(
    session: Session, agent_ids: Sequence[uuid.UUID], start: datetime, end: datetime, now: datetime
) -> dict[uuid.UUID, list[Interval]]:
    """Each agent's leases overlapping [start, end): from the event that leased the item to
    them (their claim, or operations' assignment) to the item's next event (its submit,
    release, reap, taking back or reassignment), or to the lease's expiry while the item is
    still leased. Read per client, by the events' (client, time) index."""
    wanted = set(agent_ids)
    found: dict[uuid.UUID, list[Interval]] = {agent_id: [] for agent_id in agent_ids}
    if not wanted:
        return found
    actors = [f"agent:{agent_id}" for agent_id in agent_ids]
    starts: dict[tuple[int, uuid.UUID, int], tuple[uuid.UUID, datetime]] = {}
    for client_id in session.scalars(select(Client.id).order_by(Client.id)):
        rows = session.execute(
            select(
                WorkItemEvent.work_item_id,
                WorkItemEvent.seq,
                WorkItemEvent.at,
                WorkItemEvent.actor,
                WorkItemEvent.data,
            ).where(
                WorkItemEvent.client_id == client_id,
                WorkItemEvent.at >= start - LEASE_LOOKBACK,
                WorkItemEvent.at < end,
                WorkItemEvent.to_state == State.LEASED.value,
                or_(WorkItemEvent.actor.in_(actors), WorkItemEvent.actor.not_like("agent:%")),
            )
        )
        for item_id, seq, at, actor, data in rows:
            owner = _owner(actor, data)
            if owner in wanted:
                starts[(client_id, item_id, seq)] = (owner, at)
    ends: dict[tuple[int, uuid.UUID, int], datetime] = {}
    keys = [(client, item, seq + 1) for client, item, seq in starts]
    for i in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[i : i + _KEYS_PER_QUERY]
        for client_id, item_id, seq, at in session.execute(
            select(
                WorkItemEvent.client_id,
                WorkItemEvent.work_item_id,
                WorkItemEvent.seq,
                WorkItemEvent.at,
            ).where(
                tuple_(WorkItemEvent.client_id, WorkItemEvent.work_item_id, WorkItemEvent.seq).in_(
                    chunk
                )
            )
        ):
            ends[(client_id, item_id, seq - 1)] = at
    held = {
        (row.client_id, row.id, row.version): row.lease_expires_at
        for row in session.execute(
            select(
                WorkItem.client_id, WorkItem.id, WorkItem.version, WorkItem.lease_expires_at
            ).where(WorkItem.state == State.LEASED.value, WorkItem.lease_owner.in_(list(wanted)))
        )
    }
    for key, (owner, began) in starts.items():
        finished = ends.get(key)
        if finished is None:  # still leased (the item's version is the claim's sequence)
            expires = held.get(key)
            finished = expires if expires is not None else min(end, now)
        if finished > start and began < end:
            found[owner].append((began, finished))
    return found


def _owner(actor: str, data: dict[str, object] | None) -> uuid.UUID | None:
    try:
        if actor.startswith("agent:"):
            return uuid.UUID(actor.removeprefix("agent:"))
        if data and isinstance(assigned := data.get("assigned_to"), str):
            return uuid.UUID(assigned)
    except ValueError:
        return None
    return None


def timelines(
    session: Session,
    agents: dict[uuid.UUID, uuid.UUID | None],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    idle: timedelta,
) -> dict[uuid.UUID, list[Span]]:
    """Each agent's actual states over [start, end) (agents: agent id -> user id)."""
    ids = list(agents)
    changes = presence.changes(session, ids, start, end)
    users = [user for user in agents.values() if user is not None]
    sessions = presence.session_intervals(session, users, start, end, idle=idle)
    leases = lease_intervals(session, ids, start, end, now)
    return {
        agent_id: adherence.actual_spans(
            changes[agent_id],
            sessions.get(user_id, []) if user_id is not None else [],
            leases[agent_id],
            start,
            end,
        )
        for agent_id, user_id in agents.items()
    }


# -- a center's day --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentDay:
    agent_id: uuid.UUID
    name: str
    scheduled: list[Interval]  # UTC
    intervals: list[adherence.IntervalAdherence]
    totals: adherence.Totals


@dataclass(frozen=True)
class CenterDay:
    center: str
    name: str
    timezone: str
    day: date
    interval_minutes: int
    start: datetime  # the local day's start, UTC
    until: datetime  # its end, or now when the day is not over
    agents: list[AgentDay]
    totals: adherence.Totals


def local_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day's start and end as UTC instants (23 or 25 hours across a clock change)."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def center_day(
    ctx: Context, center: str, day: date, *, interval_minutes: int = 15, idle: timedelta
) -> CenterDay:
    """The center's active agents on its local `day`, up to now: scheduled against actual per
    interval, and totals. A day not begun yet has no intervals; `idle` is the console
    sessions' idle timeout (settings.session_idle_minutes)."""
    if interval_minutes not in adherence.INTERVALS:
        raise _refuse("interval_minutes", f"must be 15 or 30 (got {interval_minutes})")
    if not DAYS[0] <= day <= DAYS[1]:
        raise _refuse("date", f"must be {DAYS[0]} to {DAYS[1]} (got {day})")
    session = ctx.session
    found = session.get(DeliveryCenter, center)
    if found is None:
        raise _refuse("center", f"no delivery center {center!r}")
    zone = ZoneInfo(found.timezone)
    start, end = local_day(day, zone)
    until = max(start, min(end, ctx.now))
    agents = {
        row.id: (row.name, row.user_id)
        for row in session.execute(
            select(Agent.id, Agent.name, Agent.user_id)
            .where(Agent.center_code == center, Agent.active.is_(True))
            .order_by(Agent.name, Agent.id)
        )
    }
    plan = scheduled(session, list(agents), start, end)
    actual = timelines(
        session, {a: user for a, (_, user) in agents.items()}, start, until, now=ctx.now, idle=idle
    )
    rows = []
    for agent_id, (name, _) in agents.items():
        shifts = plan.get(agent_id, [])
        per_interval = adherence.intervals(
            shifts, actual[agent_id], start, until, interval_minutes=interval_minutes
        )
        rows.append(AgentDay(agent_id, name, shifts, per_interval, adherence.totals(per_interval)))
    return CenterDay(
        center=found.code,
        name=found.name,
        timezone=found.timezone,
        day=day,
        interval_minutes=interval_minutes,
        start=start,
        until=until,
        agents=rows,
        totals=adherence.totals(row.totals for row in rows),
    )


# -- now, for the operations floor -------------------------------------------------------------


@dataclass(frozen=True)
class OutNow:
    agent_id: uuid.UUID
    name: str
    center: str
    state: Actual
    since: datetime  # when the state began (at most a day back)
    scheduled: bool
    reason: str  # "not working" (scheduled, on a break or signed out) or "off schedule"


def out_of_adherence_now(
    ctx: Context, *, center: str | None = None, idle: timedelta
) -> list[OutNow]:
    """The active agents out of adherence now (of one center, or all), the longest first."""
    session, now = ctx.session, ctx.now
    query = select(Agent.id, Agent.name, Agent.user_id, Agent.center_code).where(
        Agent.active.is_(True)
    )
    if center is not None:
        query = query.where(Agent.center_code == center)
    agents = {row.id: row for row in session.execute(query)}
    start, end = now - timedelta(days=1), now + timedelta(seconds=1)
    plan = scheduled(session, list(agents), now, end)
    actual = timelines(
        session, {a: row.user_id for a, row in agents.items()}, start, end, now=now, idle=idle
    )
    found = []
    for agent_id, row in agents.items():
        span = adherence.state_at(actual[agent_id], now)
        state = span.state if span is not None else Actual.SIGNED_OUT
        on = any(a <= now < b for a, b in plan.get(agent_id, []))
        reason = adherence.out_of_adherence(on, state)
        if reason is not None:
            since = span.start if span is not None else start
            found.append(OutNow(agent_id, row.name, row.center_code, state, since, on, reason))
    return sorted(found, key=lambda out: (out.since, out.name))


# -- intraday -----------------------------------------------------------------------------------

Staffed = Literal["under", "over", "even"]


@dataclass(frozen=True)
class IntradayInterval:
    start: datetime  # in the client's time zone
    arrivals: float  # the reforecast (the actual arrivals for the interval under way)
    aht_seconds: float
    agents: int  # working, after the occupancy cap
    needed: int  # people to schedule, after shrinkage
    scheduled: float  # people scheduled who may serve the process (fractions: part-intervals)
    gap: float  # scheduled - needed: below 0 understaffed
    staffed: Staffed


@dataclass(frozen=True)
class Intraday:
    process_id: uuid.UUID
    timezone: str
    interval_minutes: int
    today_factor: float  # today's arrivals so far over their forecast (1.0: unchanged)
    today_elapsed: int
    eligible_agents: int  # active agents who may serve the process
    intervals: list[IntradayInterval]  # from the interval under way to the day's end


def intraday(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    interval_minutes: int = 15,
    weeks: int = 8,
    found: forecasting.ProcessForecast | None = None,
) -> Intraday:
    """The rest of today for a process: reforecast arrivals, the people they need, the people
    scheduled who may serve it, under or over per interval. A caller that has the process's
    forecast already (of any days from today) passes it as `found`."""
    if found is None:
        found = forecasting.process_forecast(
            ctx, process_id, interval_minutes=interval_minutes, weeks=weeks, days=1
        )
    interval_minutes = found.interval_minutes
    process = get_process(ctx, process_id)
    per_day = found.main.forecast.per_day
    needs = staffing.staff_needed(found, staffing.process_assumptions(process))[:per_day]
    eligible = _eligible(ctx.session, process)
    step = timedelta(minutes=interval_minutes)
    starts = [need.start.astimezone(UTC) for need in needs]
    ahead = [i for i, s in enumerate(starts) if s + step > ctx.now]
    plan: dict[uuid.UUID, list[Interval]] = {}
    if ahead and eligible:
        plan = scheduled(ctx.session, eligible, starts[ahead[0]], starts[ahead[-1]] + step)
    rows = []
    for i in ahead:
        need = needs[i]
        window = (starts[i], starts[i] + step)
        people = sum(_overlap(window, shift) for shifts in plan.values() for shift in shifts) / (
            step.total_seconds()
        )
        people = round(people, 2)
        gap = round(people - need.scheduled, 2)
        staffed: Staffed = "under" if gap < 0 else "over" if gap > 0 else "even"
        rows.append(
            IntradayInterval(
                need.start,
                need.arrivals,
                need.aht_seconds,
                need.agents,
                need.scheduled,
                people,
                gap,
                staffed,
            )
        )
    return Intraday(
        process_id=process.id,
        timezone=found.timezone,
        interval_minutes=interval_minutes,
        today_factor=found.main.today_factor,
        today_elapsed=found.main.today_elapsed,
        eligible_agents=len(eligible),
        intervals=rows,
    )


def _overlap(a: Interval, b: Interval) -> float:
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def _eligible(session: Session, process: Process) -> list[uuid.UUID]:
    """The active agents who may serve the process (skills, languages, clearance; their
    shift aside), read in bulk."""
    queue = QueueRequirements(
        process.client_id,
        process.routing_key,
        process.required_skills,
        process.language,
        process.min_cefr,
        judged=process.kind == "decision",
    )
    agents = {
        row.id: row.role
        for row in session.execute(
            select(Agent.id, User.role)
            .join(AgentClearance, AgentClearance.agent_id == Agent.id)
            .outerjoin(User, User.id == Agent.user_id)
            .where(Agent.active.is_(True), AgentClearance.client_id == process.client_id)
        )
    }
    skills: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    languages: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    if agents:
        for agent_id, code, level in session.execute(
            select(AgentSkill.agent_id, AgentSkill.skill_code, AgentSkill.level).where(
                AgentSkill.agent_id.in_(list(agents))
            )
        ):
            skills[agent_id][code] = level
        for agent_id, language, cefr in session.execute(
            select(AgentLanguage.agent_id, AgentLanguage.language, AgentLanguage.cefr).where(
                AgentLanguage.agent_id.in_(list(agents))
            )
        ):
            languages[agent_id][language] = cefr
    return sorted(
        agent_id
        for agent_id, role in agents.items()
        if can_serve(
            AgentProfile(
                skills=skills[agent_id],
                languages=languages[agent_id],
                cleared_clients=frozenset({process.client_id}),
                center_timezone="UTC",
                shifts=(),
                judges=role is None or Permission.DECISION_JUDGE in ROLES.get(role, ()),
            ),
            queue,
        )
    )
