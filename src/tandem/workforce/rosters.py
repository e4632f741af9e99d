"""Rosters: dated shifts for the agents of one or more delivery centers, planned with the
multi-center solver (`rostering.realistic`: CP-SAT under labour rules, in each center's time
zone, across midnight and daylight-saving changes, its public holidays), stored as a draft,
published to decide the centers' dates for dispatch (`schedule`, `eligibility.on_shift`),
read per agent and day or per interval (required against scheduled), and exported.

Planning runs in three steps, so that no database transaction stays open while the solver
works (tens of seconds: on SQLite a transaction holds the write lock, on PostgreSQL an idle
one is cut after a minute): `prepare_roster` reads the agents and centers into a
`RosterProblem` in one transaction, `solve_prepared` solves and re-checks it with no
database, `store_roster` writes the draft in a second transaction. `plan_roster` runs the
three with a context factory; one plan is solved at a time per process (a second is refused
with 409: the machine's cores are the solver's).

What the requirement is (agents per 15-minute UTC interval) is the caller's: an explicit
list, or a process's forecast turned into agents (`tandem.reports.rosterplans`, which reads
the forecast and the catalog, above this layer).

Publishing: `roster_days` holds, per center and local date, the published roster that
decides it. Publishing a roster writes its centers' dates there, taking them over from any
roster published before (a later publication supersedes an earlier one date by date); a
roster left deciding no date at all becomes `superseded`. Publications over the same
centers are serialized by locking the centers' rows."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER
from tandem.core import paging
from tandem.core.cells import neutral, text_cells
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.tenancy.context import Context
from tandem.workforce import shift_requests
from tandem.workforce.eligibility import AgentProfile, QueueRequirements, WeeklyShift, can_serve
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
)
from tandem.workforce.roster_models import Roster, RosterDay, RosterRequirement, RosterShift
from tandem.workforce.rostering import realistic
from tandem.workforce.schedule import dated_shifts, days_in_a_row_before, scheduled

MAX_DAYS = 28
QUARTER = timedelta(minutes=15)
DEFAULT_TIME_LIMIT_S = 30.0
MAX_TIME_LIMIT_S = 300.0
DEFAULT_SHIFT_MINUTES = 480
MAX_SHIFT_MINUTES = 720
MAX_REQUIRED = 10_000  # agents in one interval
# The solver's budget beside its time limit: a plan's shift choices (each agent's allowed
# starts on each day). 500 agents with 6 starts a day over 28 days are 84,000.
MAX_SHIFT_CHOICES = 500_000
STATES = ("draft", "published", "superseded")


def _refuse(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field_name}: {message}", errors=[{"field": field_name, "message": message}]
    )


# -- what to plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterSpec:
    """A roster to plan, its requirement resolved to agents per 15-minute UTC interval.

    `client_id`: only agents cleared for this client (None: every active agent of the
    centers); `queue`: only agents who can serve it (skills, languages, the judging of
    referrals). `centers` None: the centers of those agents. `leave`: days an agent asked
    off (local dates); `holiday_volunteers`: agents who offered to work public holidays."""

    name: str
    first_date: date
    days: int
    requirement: Mapping[datetime, int]  # interval start (UTC) -> agents; missing: 0
    source: Mapping[str, Any]  # how the requirement was made, stored with the roster
    client_id: int | None = None
    queue: QueueRequirements | None = None
    centers: tuple[str, ...] | None = None
    rules: realistic.LabourRules = field(default_factory=realistic.LabourRules)
    leave: Mapping[uuid.UUID, frozenset[date]] = field(default_factory=dict)
    holiday_volunteers: frozenset[uuid.UUID] = frozenset()
    uncovered_penalty_cents: int = 10_000
    # Centers paying in different currencies are weighed in one: `cost_currency`, each other
    # currency at its value in it (`exchange_rates`, e.g. {"PHP": Decimal("0.0172")} for USD).
    cost_currency: str | None = None
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedRoster:
    spec: RosterSpec
    problem: realistic.RosterProblem  # its centers' hourly rates in the cost currency
    centers: tuple[str, ...]
    agent_ids: tuple[uuid.UUID, ...]
    local_rates: Mapping[str, int]  # each center's hourly rate in cents of its own currency
    cost_currency: str


@dataclass(frozen=True)
class SolvedRoster:
    result: realistic.RosterResult
    check: realistic.Check


@dataclass(frozen=True)
class RosterSummary:
    id: uuid.UUID
    name: str
    state: str
    centers: list[str]
    first_date: date
    days: int
    agents: int
    shifts: int
    source: dict[str, Any]
    rules: dict[str, Any]
    cost_cents: int
    objective_cents: int
    short_agent_intervals: int
    coverage: float
    solver_status: str
    solver_seconds: float
    created_by: uuid.UUID | None
    created_at: datetime
    published_by: uuid.UUID | None
    published_at: datetime | None
    deciding_days: int  # (center, date) pairs it decides now: 0 unless published


def check_days(first_date: date, days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise _refuse("days", f"must be 1 to {MAX_DAYS} (got {days})")
    if first_date.weekday() != 0:
        raise _refuse(
            "first_date",
            f"must be a Monday (the labour rules count Monday-to-Sunday weeks); "
            f"{first_date.isoformat()} is a {first_date.strftime('%A')}",
        )


def check_rules(rules: Mapping[str, int]) -> realistic.LabourRules:
    """Labour rules from a mapping of their fields (the defaults for the others)."""
    known = {name for name in realistic.LabourRules.__dataclass_fields__}
    for name, value in rules.items():
        if name not in known:
            raise _refuse(f"rules.{name}", f"unknown rule; known: {', '.join(sorted(known))}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _refuse(f"rules.{name}", "must be a whole number, 0 or more")
    made = realistic.LabourRules(**rules)
    if made.max_shifts_per_week < 1 or made.max_consecutive_days < 1:
        raise _refuse("rules", "an agent must be allowed at least one shift")
    return made


def roster_window(
    ctx: Context, centers: Sequence[str], first_date: date, days: int
) -> tuple[datetime, int]:
    """The requirement's first 15-minute UTC interval and how many: from the earliest local
    midnight of `first_date` among the centers to the latest local midnight after the last
    day (every interval some center's local days can reach)."""
    check_days(first_date, days)
    zones = _zones(ctx.session, centers)
    start = min(_midnight(first_date, zone) for zone in zones.values())
    end = max(_midnight(first_date + timedelta(days=days), zone) for zone in zones.values())
    return start, (end - start) // QUARTER


def default_centers(ctx: Context, client_id: int | None) -> list[str]:
    """The centers of the active agents cleared for the client (all centers with an active
    agent when None): a plan follows the sun across them."""
    query = select(Agent.center_code).where(Agent.active.is_(True)).distinct()
    if client_id is not None:
        query = query.join(AgentClearance, AgentClearance.agent_id == Agent.id).where(
            AgentClearance.client_id == client_id
        )
    return sorted(ctx.session.scalars(query))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _zones(session: Session, centers: Sequence[str]) -> dict[str, ZoneInfo]:
    if not centers:
        raise _refuse("centers", "name at least one delivery center")
    found = {
        code: ZoneInfo(zone)
        for code, zone in session.execute(
            select(DeliveryCenter.code, DeliveryCenter.timezone).where(
                DeliveryCenter.code.in_(list(centers))
            )
        )
    }
    unknown = [code for code in centers if code not in found]
    if unknown:
        raise _refuse("centers", f"unknown delivery centers: {', '.join(unknown)}")
    return found


# -- preparing: agents and centers into a problem ---------------------------------------------


def allowed_starts(shifts: Sequence[WeeklyShift]) -> tuple[time, ...]:
    """The local start times an agent may be rostered at: each weekly shift's start and up to
    an hour either side, on the 30-minute grid (the hours they are used to, give or take:
    a roster that moves people by half a day is not one they can keep). Without weekly
    shifts, any full hour: nothing says when they work, so the requirement decides."""
    if not shifts:
        return tuple(time(hour) for hour in range(24))
    minutes = set()
    for shift in shifts:
        grid = round(shift.start_minute / 30) * 30
        for offset in (-60, -30, 0, 30, 60):
            minutes.add((grid + offset) % 1440)
    return tuple(time(m // 60, m % 60) for m in sorted(minutes))


def shift_length(shifts: Sequence[WeeklyShift]) -> int:
    """The agent's rostered shift length: their most usual weekly shift length on the
    15-minute grid (the longer on a tie), 8 hours without weekly shifts, at most 12 hours."""
    if not shifts:
        return DEFAULT_SHIFT_MINUTES
    counts = Counter(max(15, round(s.duration_minutes / 15) * 15) for s in shifts)
    usual = max(counts, key=lambda length: (counts[length], length))
    return min(usual, MAX_SHIFT_MINUTES)


def prepare_roster(ctx: Context, spec: RosterSpec) -> PreparedRoster:
    """The spec's centers and eligible agents as a `RosterProblem` (one read)."""
    session = ctx.session
    check_days(spec.first_date, spec.days)
    if not spec.name.strip() or len(spec.name) > 200:
        raise _refuse("name", "must be 1 to 200 characters")
    centers = tuple(spec.centers or default_centers(ctx, spec.client_id))
    if not centers:
        raise _refuse("centers", "no active agent is cleared for the client at any center")
    start_utc, intervals = roster_window(ctx, centers, spec.first_date, spec.days)
    requirement = [0] * intervals
    for index, (at, need) in enumerate(sorted(spec.requirement.items())):
        position = (at.astimezone(UTC) - start_utc) / QUARTER
        if position != int(position) or not 0 <= position < intervals:
            raise _refuse(
                f"requirement.{index}.start",
                f"must be a 15-minute interval from {start_utc.isoformat()} to "
                f"{(start_utc + intervals * QUARTER).isoformat()} (UTC)",
            )
        if not 0 <= need <= MAX_REQUIRED:
            raise _refuse(f"requirement.{index}.agents", f"must be 0 to {MAX_REQUIRED}")
        requirement[int(position)] = need

    rows = {
        row.code: row
        for row in session.scalars(select(DeliveryCenter).where(DeliveryCenter.code.in_(centers)))
    }
    local_rates = {code: int(Decimal(rows[code].hourly_cost) * 100) for code in centers}
    currency, values = cost_in_one_currency(
        {code: rows[code].currency for code in centers}, spec.cost_currency, spec.exchange_rates
    )
    problem_centers = tuple(
        realistic.Center(
            code,
            rows[code].timezone,
            rows[code].country,
            round(local_rates[code] * values[code]),
        )
        for code in centers
    )
    extra_holidays = {
        code: {date.fromisoformat(day) for day in rows[code].holidays or []} for code in centers
    }
    for center in problem_centers:  # a country the holidays library lacks: named, not a 500
        try:
            realistic.RosterProblem(
                spec.first_date, spec.days, start_utc, (), problem_centers, ()
            ).holidays_of(center)
        except NotImplementedError:
            raise _refuse(
                "centers", f"no public holidays known for {center.id}'s country {center.country}"
            ) from None

    agents = _eligible(session, centers, spec.client_id, spec.queue)
    if not agents:
        raise _refuse("centers", "no active agent at these centers is cleared for the work")
    known = {agent.id for agent, _ in agents}
    for index, agent_id in enumerate(spec.leave):
        if agent_id not in known:
            raise _refuse(f"leave.{index}.agent_id", "not an agent of this roster")
    last = spec.first_date + timedelta(days=spec.days)
    free_from = _free_from(session, agents, rows, spec.first_date, spec.rules.min_rest_minutes)
    ids = [agent.id for agent, _ in agents]
    # the days worked in a row just before the first day, from what was scheduled then
    before = dated_shifts(
        session,
        ids,
        spec.first_date - timedelta(days=spec.rules.max_consecutive_days),
        spec.first_date - timedelta(days=1),
    )
    asked = shift_requests.open_requests(session, ids, spec.first_date, last - timedelta(days=1))
    problem_agents = []
    for agent, shifts in agents:
        volunteer = agent.id in spec.holiday_volunteers
        leave = set(spec.leave.get(agent.id, frozenset()))
        if not volunteer:  # the center's own holidays: off, unless they volunteered
            leave |= extra_holidays[agent.center_code]
        problem_agents.append(
            realistic.Agent(
                str(agent.id),
                agent.center_code,
                shift_length(shifts),
                allowed_starts(shifts),
                frozenset(d for d in leave if spec.first_date <= d < last),
                holiday_volunteer=volunteer,
                free_from=free_from.get(agent.id),
                worked_before=days_in_a_row_before(before.get(agent.id, []), spec.first_date),
                requests=tuple(
                    realistic.Request(
                        str(row.id),
                        row.local_date,
                        "day_off" if row.kind == "day_off" else "shift_start",
                        time(row.start_minute // 60, row.start_minute % 60)
                        if row.start_minute is not None
                        else None,
                    )
                    for row in asked.get(agent.id, [])
                ),
            )
        )
    choices = sum(len(agent.starts) for agent in problem_agents) * spec.days
    if choices > MAX_SHIFT_CHOICES:
        raise _refuse(
            "days",
            f"{len(problem_agents)} agents over {spec.days} days give {choices:,} shift choices, "
            f"more than the {MAX_SHIFT_CHOICES:,} one plan may weigh: plan fewer days or centers",
        )
    problem = realistic.RosterProblem(
        first_day=spec.first_date,
        days=spec.days,
        start_utc=start_utc,
        requirement=tuple(requirement),
        centers=problem_centers,
        agents=tuple(problem_agents),
        rules=spec.rules,
        uncovered_penalty_cents=spec.uncovered_penalty_cents,
    )
    agent_ids = tuple(agent.id for agent, _ in agents)
    return PreparedRoster(spec, problem, centers, agent_ids, local_rates, currency)


def _free_from(
    session: Session,
    agents: Sequence[tuple[Agent, Sequence[WeeklyShift]]],
    centers: Mapping[str, DeliveryCenter],
    first_date: date,
    rest_minutes: int,
) -> dict[uuid.UUID, datetime]:
    """Each agent's earliest start: the end of their last shift begun before the roster's
    first local day (weekly, or a published roster's: tandem.workforce.schedule) and the
    rest after it."""
    starts = {
        agent.id: _midnight(first_date, ZoneInfo(centers[agent.center_code].timezone))
        for agent, _ in agents
    }
    if not starts:
        return {}
    earliest, latest = min(starts.values()), max(starts.values())
    plan = scheduled(
        session, list(starts), earliest - timedelta(days=1), latest + timedelta(days=1)
    )
    rest = timedelta(minutes=rest_minutes)
    free = {}
    for agent_id, spans in plan.items():
        before = [end for begin, end in spans if begin < starts[agent_id]]
        if before and max(before) + rest > starts[agent_id]:
            free[agent_id] = max(before) + rest
    return free


def _eligible(
    session: Session,
    centers: Sequence[str],
    client_id: int | None,
    queue: QueueRequirements | None,
) -> list[tuple[Agent, list[WeeklyShift]]]:
    """Active agents of the centers, cleared for the client, able to serve the queue; each
    with their weekly shifts. By center and name."""
    query = (
        select(Agent)
        .where(Agent.active.is_(True), Agent.center_code.in_(list(centers)))
        .order_by(Agent.center_code, Agent.name, Agent.id)
    )
    if client_id is not None:
        query = query.join(AgentClearance, AgentClearance.agent_id == Agent.id).where(
            AgentClearance.client_id == client_id
        )
    agents = list(session.scalars(query))
    ids = [agent.id for agent in agents]
    if not ids:
        return []
    shifts: dict[uuid.UUID, list[WeeklyShift]] = defaultdict(list)
    for agent_id, weekday, start, minutes in session.execute(
        select(Shift.agent_id, Shift.weekday, Shift.start_minute, Shift.duration_minutes)
        .where(Shift.agent_id.in_(ids))
        .order_by(Shift.weekday, Shift.start_minute)
    ):
        shifts[agent_id].append(WeeklyShift(weekday, start, minutes))
    if queue is not None:
        skills: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
        for agent_id, code, level in session.execute(
            select(AgentSkill.agent_id, AgentSkill.skill_code, AgentSkill.level).where(
                AgentSkill.agent_id.in_(ids)
            )
        ):
            skills[agent_id][code] = level
        languages: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
        for agent_id, language, cefr in session.execute(
            select(AgentLanguage.agent_id, AgentLanguage.language, AgentLanguage.cefr).where(
                AgentLanguage.agent_id.in_(ids)
            )
        ):
            languages[agent_id][language] = cefr
        agents = [
            agent
            for agent in agents
            if can_serve(
                AgentProfile(
                    skills=skills[agent.id],
                    languages=languages[agent.id],
                    cleared_clients=frozenset({queue.client_id}),
                    center_timezone="UTC",
                    shifts=(),
                    judges=agent.tier == "analyst",
                ),
                queue,
            )
        ]
    return [(agent, shifts[agent.id]) for agent in agents]


# -- solving -----------------------------------------------------------------------------------

_solving = threading.Lock()


def solve_prepared(
    prepared: PreparedRoster, *, time_limit: float = DEFAULT_TIME_LIMIT_S, workers: int = 2
) -> SolvedRoster:
    """CP-SAT under the time limit (no database), the roster re-verified by `check`. One at a
    time per process: a second concurrent call is refused (Conflict)."""
    if not 1 <= time_limit <= MAX_TIME_LIMIT_S:
        raise _refuse("time_limit_seconds", f"must be 1 to {MAX_TIME_LIMIT_S:g} seconds")
    if not _solving.acquire(blocking=False):
        raise Conflict("another roster is being planned: try again when it is done")
    try:
        result = realistic.solve(prepared.problem, time_limit=time_limit, workers=workers)
    finally:
        _solving.release()
    checked = realistic.check(prepared.problem, result.shifts)
    if not checked.feasible:  # the model and the check disagree: never store such a roster
        raise RuntimeError(f"the solver's roster breaks rules: {checked.violations[:5]}")
    return SolvedRoster(result, checked)


def plan_roster(
    contexts: Callable[[], AbstractContextManager[Context]],
    spec: RosterSpec,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
) -> RosterSummary:
    """Prepare (one transaction), solve (none), store the draft (another transaction)."""
    if not 1 <= time_limit <= MAX_TIME_LIMIT_S:
        raise _refuse("time_limit_seconds", f"must be 1 to {MAX_TIME_LIMIT_S:g} seconds")
    with contexts() as ctx:
        prepared = prepare_roster(ctx, spec)
    solved = solve_prepared(prepared, time_limit=time_limit)
    with contexts() as ctx:
        return store_roster(ctx, prepared, solved)


# -- storing -----------------------------------------------------------------------------------


def shift_figures(
    begin: datetime, end: datetime, zone: ZoneInfo, rate_cents: int, rules: Any, holiday: bool
) -> tuple[int, int]:
    """A shift's cost in cents and its night minutes (22:00 to 06:00 local), from real time
    by quarter-hours, as `realistic.check` counts them."""
    real = int((end - begin).total_seconds() // 60)
    night = 15 * sum(
        1
        for m in range(0, real, 15)
        if not 6 <= (begin + timedelta(minutes=m)).astimezone(zone).hour < 22
    )
    base = rate_cents * real / 60
    total = base + rate_cents * night / 60 * rules.night_premium_pct / 100
    if holiday:
        total += base * rules.holiday_premium_pct / 100
    return round(total), night


MAX_EXCHANGE_RATE = Decimal(1_000_000)


def cost_in_one_currency(
    currencies: Mapping[str, str], cost_currency: str | None, rates: Mapping[str, Decimal]
) -> tuple[str, dict[str, Decimal]]:
    """The currency a plan weighs its costs in, and each center's unit's value in it: the
    centers' one currency (rates unneeded), or `cost_currency` with a rate for every other
    currency the centers pay in. A plan never adds pesos to zlotys as if they were one."""
    paid = set(currencies.values())
    if cost_currency is None:
        if len(paid) > 1:
            raise _refuse(
                "cost_currency",
                f"the centers pay in {', '.join(sorted(paid))}: name the currency the plan "
                "weighs costs in, and give each other currency's value in it (exchange_rates)",
            )
        return paid.pop(), dict.fromkeys(currencies, Decimal(1))
    if len(cost_currency) != 3 or not cost_currency.isalpha() or not cost_currency.isupper():
        raise _refuse("cost_currency", "an ISO 4217 code, e.g. USD")
    for code, rate in rates.items():
        if not (rate.is_finite() and Decimal(0) < rate <= MAX_EXCHANGE_RATE):
            raise _refuse(
                f"exchange_rates.{code}", f"must be above 0 and at most {MAX_EXCHANGE_RATE:,}"
            )
    missing = sorted(paid - set(rates) - {cost_currency})
    if missing:
        raise _refuse(
            f"exchange_rates.{missing[0]}",
            f"the value of one {', one '.join(missing)} in {cost_currency} is needed",
        )
    values = {
        center: Decimal(1) if paid_in == cost_currency else rates[paid_in]
        for center, paid_in in currencies.items()
    }
    return cost_currency, values


def store_roster(ctx: Context, prepared: PreparedRoster, solved: SolvedRoster) -> RosterSummary:
    """The solved roster as a draft, with its shifts and requirement; audited."""
    session = ctx.session
    spec, problem = prepared.spec, prepared.problem
    centers = {c.id: c for c in problem.centers}
    holidays = {c.id: problem.holidays_of(c) for c in problem.centers}
    roster = Roster(
        name=spec.name.strip(),
        centers=list(prepared.centers),
        agent_ids=[str(a) for a in prepared.agent_ids],
        first_date=spec.first_date,
        days=spec.days,
        state="draft",
        source={
            **spec.source,
            "cost_currency": prepared.cost_currency,
            "exchange_rates": {code: str(rate) for code, rate in spec.exchange_rates.items()},
        },
        rules=asdict(spec.rules),
        start_utc=problem.start_utc,
        intervals=len(problem.requirement),
        cost_cents=solved.check.cost_cents,
        objective_cents=solved.check.objective,
        short_agent_intervals=solved.check.short_agent_intervals,
        coverage=solved.check.coverage,
        solver_status=solved.result.status,
        solver_seconds=solved.result.seconds,
        created_by=ctx.principal.user_id,
        created_at=ctx.now,
    )
    session.add(roster)
    session.flush()
    agents = {a.id: a for a in problem.agents}
    rows = []
    for shift in solved.result.shifts:
        agent = agents[shift.agent]
        center = centers[agent.center]
        zone = ZoneInfo(center.zone)
        times = realistic.shift_interval(shift, zone)
        if times is None:  # check() refuses these; kept out for certain
            continue
        begin, end = times
        cost, night = shift_figures(  # in the center's own currency
            begin,
            end,
            zone,
            prepared.local_rates[center.id],
            spec.rules,
            shift.day in holidays[center.id],
        )
        rows.append(
            {
                "roster_id": roster.id,
                "agent_id": uuid.UUID(shift.agent),
                "local_date": shift.day,
                "center_code": center.id,
                "start_minute": shift.start.hour * 60 + shift.start.minute,
                "minutes": shift.minutes,
                "starts_at": begin,
                "ends_at": end,
                "cost_cents": cost,
                "night_minutes": night,
            }
        )
    if rows:
        session.execute(insert(RosterShift), rows)
    needs = [
        {"roster_id": roster.id, "starts_at": problem.start_utc + q * QUARTER, "required": n}
        for q, n in enumerate(problem.requirement)
        if n > 0
    ]
    if needs:
        session.execute(insert(RosterRequirement), needs)
    # each request weighed: granted or not in this draft (a published roster's stand)
    granted = {
        uuid.UUID(request.id): request.id in solved.check.granted
        for agent in problem.agents
        for request in agent.requests
    }
    shift_requests.record_decisions(session, roster.id, granted, ctx.now, final=False)
    summary = _summary(session, roster)
    _trail(
        ctx,
        roster.id,
        "roster.plan",
        None,
        {
            "name": roster.name,
            "centers": roster.centers,
            "first_date": roster.first_date.isoformat(),
            "days": roster.days,
            "agents": len(prepared.agent_ids),
            "shifts": len(rows),
            "cost_cents": roster.cost_cents,
            "coverage": roster.coverage,
            "source": roster.source,
        },
    )
    return summary


def _trail(ctx: Context, roster_id: uuid.UUID, action: str, before: object, after: object) -> None:
    audit.record_in(
        ctx,
        client_id=PROVIDER,
        action=action,
        subject=f"roster:{roster_id}",
        data={"before": before, "after": after},
    )


# -- publishing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    roster: RosterSummary
    superseded: list[uuid.UUID]  # rosters that decided none of their dates any more
    taken_over: int  # (center, date) pairs taken from rosters published before
    agents: list[uuid.UUID]  # whose schedule may have changed: drop their cached queues


def publish_roster(ctx: Context, roster_id: uuid.UUID) -> Publication:
    """Draft -> published: the roster decides its centers' local dates from now on, taking
    each over from the roster published there before (which becomes `superseded` once it
    decides no date at all). Dispatch honours it from each agent's next claim (the caller
    drops the dispatcher's cached queues of `agents` after commit). Audited."""
    session = ctx.session
    roster = session.scalar(select(Roster).where(Roster.id == roster_id).with_for_update())
    if roster is None:
        raise NotFound(f"roster {roster_id} not found")
    if roster.state != "draft":
        raise Conflict(f"roster {roster_id} is {roster.state}: only a draft is published")
    # Serialize publications over the same centers (in order: no deadlock between two).
    session.scalars(
        select(DeliveryCenter.code)
        .where(DeliveryCenter.code.in_(sorted(roster.centers)))
        .order_by(DeliveryCenter.code)
        .with_for_update()
    ).all()
    dates = [roster.first_date + timedelta(days=d) for d in range(roster.days)]
    previous = session.execute(
        select(RosterDay.roster_id, func.count())
        .where(
            RosterDay.center_code.in_(roster.centers),
            RosterDay.local_date >= dates[0],
            RosterDay.local_date <= dates[-1],
        )
        .group_by(RosterDay.roster_id)
    ).all()
    session.execute(
        delete(RosterDay).where(
            RosterDay.center_code.in_(roster.centers),
            RosterDay.local_date >= dates[0],
            RosterDay.local_date <= dates[-1],
        )
    )
    session.execute(
        insert(RosterDay),
        [
            {"center_code": code, "local_date": day, "roster_id": roster.id}
            for code in roster.centers
            for day in dates
        ],
    )
    superseded = []
    for earlier_id, _ in previous:
        left = session.scalar(
            select(func.count()).select_from(RosterDay).where(RosterDay.roster_id == earlier_id)
        )
        if not left:
            earlier_roster = session.get_one(Roster, earlier_id)
            earlier_roster.state = "superseded"
            superseded.append(earlier_id)
    roster.state = "published"
    roster.published_at = ctx.now
    roster.published_by = ctx.principal.user_id
    session.flush()
    _decide_requests(session, roster, dates, ctx.now)
    taken = sum(count for _, count in previous)
    _trail(
        ctx,
        roster.id,
        "roster.publish",
        {"state": "draft"},
        {
            "state": "published",
            "centers": roster.centers,
            "first_date": roster.first_date.isoformat(),
            "days": roster.days,
            "superseded": [str(r) for r in superseded],
            "taken_over_days": taken,
        },
    )
    # every agent of the centers: a roster also gives days off to agents it left out
    agents = list(session.scalars(select(Agent.id).where(Agent.center_code.in_(roster.centers))))
    return Publication(_summary(session, roster), superseded, taken, agents)


def _decide_requests(
    session: Session, roster: Roster, dates: Sequence[date], now: datetime
) -> None:
    """The published roster answers every open request of its agents on its dates, those
    made after it was planned included: a day off is granted when it has no shift for the
    agent that date, a start when it has one at that local start."""
    ids = [uuid.UUID(a) for a in roster.agent_ids]
    asked = shift_requests.open_requests(session, ids, dates[0], dates[-1])
    if not asked:
        return
    starts: dict[tuple[uuid.UUID, date], set[int]] = defaultdict(set)
    for agent_id, day, minute in session.execute(
        select(RosterShift.agent_id, RosterShift.local_date, RosterShift.start_minute).where(
            RosterShift.roster_id == roster.id
        )
    ):
        starts[agent_id, day].add(minute)
    granted = {
        row.id: (
            not starts.get((row.agent_id, row.local_date))
            if row.kind == "day_off"
            else row.start_minute in starts.get((row.agent_id, row.local_date), set())
        )
        for rows in asked.values()
        for row in rows
    }
    shift_requests.record_decisions(session, roster.id, granted, now, final=True)


# -- reading -----------------------------------------------------------------------------------


def _summary(session: Session, roster: Roster) -> RosterSummary:
    shifts = session.scalar(
        select(func.count()).select_from(RosterShift).where(RosterShift.roster_id == roster.id)
    )
    deciding = session.scalar(
        select(func.count()).select_from(RosterDay).where(RosterDay.roster_id == roster.id)
    )
    return _summary_of(roster, int(shifts or 0), int(deciding or 0))


def _summary_of(roster: Roster, shifts: int, deciding: int) -> RosterSummary:
    return RosterSummary(
        id=roster.id,
        name=roster.name,
        state=roster.state,
        centers=list(roster.centers),
        first_date=roster.first_date,
        days=roster.days,
        agents=len(roster.agent_ids),
        shifts=shifts,
        source=dict(roster.source),
        rules=dict(roster.rules),
        cost_cents=roster.cost_cents,
        objective_cents=roster.objective_cents,
        short_agent_intervals=roster.short_agent_intervals,
        coverage=roster.coverage,
        solver_status=roster.solver_status,
        solver_seconds=roster.solver_seconds,
        created_by=roster.created_by,
        created_at=roster.created_at,
        published_by=roster.published_by,
        published_at=roster.published_at,
        deciding_days=deciding,
    )


def _get(session: Session, roster_id: uuid.UUID) -> Roster:
    roster = session.get(Roster, roster_id)
    if roster is None:
        raise NotFound(f"roster {roster_id} not found")
    return roster


ROSTER_ORDERS = {
    "created": (Roster.created_at, Roster.id),
    "-created": (Roster.created_at.desc(), Roster.id),
    "first_date": (Roster.first_date, Roster.created_at.desc(), Roster.id),
    "-first_date": (Roster.first_date.desc(), Roster.created_at.desc(), Roster.id),
}
RosterOrder = Literal["created", "-created", "first_date", "-first_date"]


def list_rosters(
    ctx: Context,
    *,
    state: str | None = None,
    sort: RosterOrder = "-created",
    window: paging.Window = paging.Window(),
) -> paging.Page[RosterSummary]:
    """A page of the rosters (or of those in one state), newest first unless sorted by their
    first date."""
    if state is not None and state not in STATES:
        raise _refuse("state", f"must be one of {', '.join(STATES)}")
    query = select(Roster).order_by(*ROSTER_ORDERS[sort])
    if state is not None:
        query = query.where(Roster.state == state)
    page = paging.read(ctx.session, query, window)
    ids = [r.id for r in page.items]
    shifts = dict(
        ctx.session.execute(
            select(RosterShift.roster_id, func.count())
            .where(RosterShift.roster_id.in_(ids))
            .group_by(RosterShift.roster_id)
        ).all()
    )
    deciding = dict(
        ctx.session.execute(
            select(RosterDay.roster_id, func.count())
            .where(RosterDay.roster_id.in_(ids))
            .group_by(RosterDay.roster_id)
        ).all()
    )
    return page.map(lambda r: _summary_of(r, int(shifts.get(r.id, 0)), int(deciding.get(r.id, 0))))


def roster_summary(ctx: Context, roster_id: uuid.UUID) -> RosterSummary:
    return _summary(ctx.session, _get(ctx.session, roster_id))


@dataclass(frozen=True)
class CenterInfo:
    code: str
    name: str
    timezone: str
    currency: str


@dataclass(frozen=True)
class DayShift:
    """An agent's shift on a local date, in their center's time zone."""

    local_date: date
    start: time  # local wall clock
    end: time  # local wall clock
    end_date: date  # the local date it ends on (the next one past midnight)
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    real_minutes: int  # what UTC says: 7 h for an 8-hour night shift when clocks go forward
    night_minutes: int
    cost_cents: int


@dataclass(frozen=True)
class AgentDays:
    agent_id: uuid.UUID
    name: str
    center_code: str
    timezone: str
    days: list[DayShift | None]  # per local date of the roster; None: a day off
    minutes: int  # real minutes rostered
    cost_cents: int


@dataclass(frozen=True)
class RosterDetail:
    summary: RosterSummary
    dates: list[date]
    centers: list[CenterInfo]
    agents: list[AgentDays]  # by center and name


def roster_detail(ctx: Context, roster_id: uuid.UUID) -> RosterDetail:
    """The roster per agent and local day: each shift in the agent's center's time zone."""
    session = ctx.session
    roster = _get(session, roster_id)
    centers = {
        c.code: c
        for c in session.scalars(
            select(DeliveryCenter).where(DeliveryCenter.code.in_(roster.centers))
        )
    }
    ids = [uuid.UUID(a) for a in roster.agent_ids]
    agents = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(ids)))}
    dates = [roster.first_date + timedelta(days=d) for d in range(roster.days)]
    by_agent: dict[uuid.UUID, dict[date, RosterShift]] = defaultdict(dict)
    for shift in session.scalars(select(RosterShift).where(RosterShift.roster_id == roster.id)):
        by_agent[shift.agent_id][shift.local_date] = shift
    rows = []
    for agent_id in ids:
        agent = agents.get(agent_id)
        if agent is None:
            continue
        shifts = by_agent.get(agent_id, {})
        code = next(iter(shifts.values())).center_code if shifts else agent.center_code
        zone_name = centers[code].timezone if code in centers else "UTC"
        zone = ZoneInfo(zone_name)
        days: list[DayShift | None] = []
        for day in dates:
            rostered = shifts.get(day)
            if rostered is None:
                days.append(None)
                continue
            begin, end = rostered.starts_at.astimezone(zone), rostered.ends_at.astimezone(zone)
            days.append(
                DayShift(
                    local_date=day,
                    start=begin.time().replace(tzinfo=None),
                    end=end.time().replace(tzinfo=None),
                    end_date=end.date(),
                    starts_at=rostered.starts_at,
                    ends_at=rostered.ends_at,
                    real_minutes=int((rostered.ends_at - rostered.starts_at).total_seconds() // 60),
                    night_minutes=rostered.night_minutes,
                    cost_cents=rostered.cost_cents,
                )
            )
        worked = [d for d in days if d is not None]
        rows.append(
            AgentDays(
                agent_id,
                agent.name,
                code,
                zone_name,
                days,
                sum(d.real_minutes for d in worked),
                sum(d.cost_cents for d in worked),
            )
        )
    rows.sort(key=lambda r: (r.center_code, r.name, str(r.agent_id)))
    return RosterDetail(
        summary=_summary(session, roster),
        dates=dates,
        centers=[
            CenterInfo(c.code, c.name, c.timezone, c.currency)
            for code, c in sorted(centers.items())
        ],
        agents=rows,
    )


@dataclass(frozen=True)
class IntervalCoverage:
    starts_at: datetime  # UTC
    required: int
    scheduled: int  # agents on duty in the whole interval, every center
    by_center: dict[str, int]


@dataclass(frozen=True)
class RosterCoverage:
    roster_id: uuid.UUID
    start_utc: datetime
    interval_minutes: int
    centers: list[str]
    intervals: list[IntervalCoverage]


def roster_coverage(ctx: Context, roster_id: uuid.UUID) -> RosterCoverage:
    """Per 15-minute UTC interval of the roster: the agents required, and those scheduled
    (a shift counts in an interval it spans in full, as the solver and the check count),
    in all and per center."""
    session = ctx.session
    roster = _get(session, roster_id)
    count = roster.intervals
    required = [0] * count
    for at, need in session.execute(
        select(RosterRequirement.starts_at, RosterRequirement.required).where(
            RosterRequirement.roster_id == roster.id
        )
    ):
        q = (at - roster.start_utc) // QUARTER
        if 0 <= q < count:
            required[q] = need
    staffed: dict[str, list[int]] = {code: [0] * count for code in roster.centers}
    for code, begin, end in session.execute(
        select(RosterShift.center_code, RosterShift.starts_at, RosterShift.ends_at).where(
            RosterShift.roster_id == roster.id
        )
    ):
        first = -((roster.start_utc - begin) // QUARTER)
        last = (end - roster.start_utc) // QUARTER
        row = staffed.setdefault(code, [0] * count)
        for q in range(max(0, first), min(count, last)):
            row[q] += 1
    intervals = [
        IntervalCoverage(
            starts_at=roster.start_utc + q * QUARTER,
            required=required[q],
            scheduled=sum(row[q] for row in staffed.values()),
            by_center={code: row[q] for code, row in sorted(staffed.items())},
        )
        for q in range(count)
    ]
    return RosterCoverage(roster.id, roster.start_utc, 15, sorted(staffed), intervals)


# -- exports -----------------------------------------------------------------------------------

EXPORT_HEADER = (
    "agent",
    "agent_id",
    "center",
    "time_zone",
    "date",
    "weekday",
    "shift",
    "start",
    "end",
    "end_date",
    "hours",
    "night_minutes",
    "cost",
    "currency",
)


def _export_rows(detail: RosterDetail) -> Iterable[list[Any]]:
    """Per agent and local day: the shift (local start and end, real hours, night minutes,
    cost in the center's currency) or a day off."""
    currency = {c.code: c.currency for c in detail.centers}
    for agent in detail.agents:
        for day, shift in zip(detail.dates, agent.days, strict=True):
            common = [agent.name, str(agent.agent_id), agent.center_code, agent.timezone, day]
            if shift is None:
                yield [*common, day.strftime("%a"), "off", None, None, None, 0.0, 0, 0.0, None]
                continue
            yield [
                *common,
                day.strftime("%a"),
                "on",
                shift.start,
                shift.end,
                shift.end_date,
                round(shift.real_minutes / 60, 2),
                shift.night_minutes,
                float(Decimal(shift.cost_cents) / 100),
                currency.get(agent.center_code),
            ]


def roster_csv(ctx: Context, roster_id: uuid.UUID) -> tuple[str, str]:
    """The roster as CSV (file name, text): dates ISO, times HH:MM, text formula-safe."""
    detail = roster_detail(ctx, roster_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    for row in _export_rows(detail):
        writer.writerow(
            [
                value.isoformat()
                if isinstance(value, date)
                else value.strftime("%H:%M")
                if isinstance(value, time)
                else ""
                if value is None
                else neutral(value)
                for value in row
            ]
        )
    return _file_name(detail, "csv"), buffer.getvalue()


def roster_xlsx(ctx: Context, roster_id: uuid.UUID) -> tuple[str, bytes]:
    """The roster as an Excel workbook (file name, bytes): dates and times typed, text typed
    as text (never a formula)."""
    detail = roster_detail(ctx, roster_id)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Roster")
    sheet.append(text_cells(sheet, list(EXPORT_HEADER)))
    for row in _export_rows(detail):
        sheet.append(text_cells(sheet, [neutral(value) for value in row]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _file_name(detail, "xlsx"), buffer.getvalue()


def _file_name(detail: RosterDetail, extension: str) -> str:
    first = detail.dates[0].isoformat()
    return f"roster-{first}-{detail.summary.id.hex[:8]}.{extension}"
