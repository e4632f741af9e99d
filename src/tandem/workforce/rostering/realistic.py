"""A contact centre's roster over several centres, time zones, a DST change and holidays.

The problem (`RosterProblem`): the client's required staff per 15-minute interval in UTC
(`requirement[i]` for `[start_utc + 15 min·i, +15 min)`), the centres (each with its time
zone, country for public holidays, hourly rate), the agents (centre, shift length, the local
start times they may work, leave days, whether they volunteered for public holidays) and the
labour rules. A shift is worked on an agent's **local** date, from a local start time for a
length of **wall-clock** time: its real duration is what UTC says (a 22:00 shift of 8 hours
the night the clocks go forward is 7 real hours, 9 when they go back). Everything a rule or
the cost measures is real time, computed through UTC.

Labour rules (`LabourRules`), all hard:

- at most one shift per local day; none on a leave day; none on the centre's public holiday
  unless the agent volunteered; no shift starting or ending at a local time that does not
  exist (the hour skipped by DST);
- at least `min_rest_minutes` of real time between the end of a shift and the next start,
  the shift before the roster's first day included (`Agent.free_from`);
- at most `max_consecutive_days` local days worked in a row, the days worked in a row just
  before the roster's first day included (`Agent.worked_before`);
- per local Monday-Sunday week, at most `max_shifts_per_week` shifts and
  `max_minutes_per_week` real minutes;
- at most `max_weekends` weekends worked (Saturday or Sunday worked, local).

Requests (`Agent.requests`), soft: a day off asked (`day_off`: no shift that local date) or a
start asked (`shift_start`: a shift that date starting at that local time, allowed that day
even if it is not among the agent's usual starts). Each one not granted costs its weight
(`RosterProblem.day_off_weight_cents`, `shift_start_weight_cents`), kept below the penalty of
one agent short for one interval: coverage comes first, then requests, then cost.

Cost, in cents: each real hour at the centre's rate, plus `night_premium_pct` for the real
minutes between 22:00 and 06:00 local, plus `holiday_premium_pct` for a shift on a public
holiday. Objective: cost plus `uncovered_penalty_cents` per agent short per interval plus
the weight of each request not granted.

Coverage (the figure reported): the share of intervals with a requirement above zero in which
the agents on duty (a shift counts in an interval it overlaps in full) are at least the
requirement.

The model (`solve`): one boolean per agent, local day and allowed start; a greedy roster is
built first (while an interval is short, the allowed shift covering it that covers most of
what is still short for its cost) and given to CP-SAT as its hint: a time limit always
leaves a roster at least as good. `check` re-verifies a roster against the rules and
recomputes its cost, coverage and the requests granted from the times alone, without the
model's tables."""

from __future__ import annotations

import itertools
import random
import time as clock
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from ortools.sat.python import cp_model

QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Center:
    id: str
    zone: str  # IANA time zone
    country: str  # ISO 3166 code, for public holidays
    hourly_rate_cents: int


@dataclass(frozen=True)
class Request:
    """An agent's soft wish for one local date: no shift (`day_off`), or a shift starting at
    `start` local time (`shift_start`)."""

    id: str
    day: date
    kind: Literal["day_off", "shift_start"]
    start: time | None = None  # shift_start only


@dataclass(frozen=True)
class Agent:
    id: str
    center: str
    shift_minutes: int  # wall-clock length of the agent's shifts
    starts: tuple[time, ...]  # local start times the agent may work (30-minute grid)
    leave: frozenset[date] = field(default_factory=frozenset)
    holiday_volunteer: bool = False
    # The earliest start (UTC): the rest after the agent's last shift before this roster.
    free_from: datetime | None = None
    # Local days worked in a row up to the day before the roster's first (0: that day off).
    worked_before: int = 0
    requests: tuple[Request, ...] = ()

    def starts_on(self, day: date) -> tuple[time, ...]:
        """The local start times the agent may work on `day`: their usual ones and a start
        they asked for that day."""
        asked = {r.start for r in self.requests if r.day == day and r.start is not None}
        return tuple(sorted(set(self.starts) | asked))


@dataclass(frozen=True)
class LabourRules:
    min_rest_minutes: int = 11 * 60
    max_consecutive_days: int = 6
    max_shifts_per_week: int = 5
    max_minutes_per_week: int = 45 * 60
    max_weekends: int = 1
    night_premium_pct: int = 10
    holiday_premium_pct: int = 100


@dataclass(frozen=True)
class RosterProblem:
    first_day: date  # a Monday, local to every centre
    days: int
    start_utc: datetime  # the requirement's first interval
    requirement: tuple[int, ...]  # agents needed per 15-minute interval from start_utc
    centers: tuple[Center, ...]
    agents: tuple[Agent, ...]
    rules: LabourRules = LabourRules()
    uncovered_penalty_cents: int = 10_000
    # What a request not granted costs: below one agent short for one interval.
    day_off_weight_cents: int = 2_500
    shift_start_weight_cents: int = 1_000

    def weight(self, request: Request) -> int:
        if request.kind == "day_off":
            return self.day_off_weight_cents
        return self.shift_start_weight_cents

    def center(self, center_id: str) -> Center:
        return next(c for c in self.centers if c.id == center_id)

    def holidays_of(self, center: Center) -> set[date]:
        years = {self.first_day.year, (self.first_day + timedelta(days=self.days)).year}
        found = holidays.country_holidays(center.country, years=sorted(years))
        return {d for d in found if 0 <= (d - self.first_day).days < self.days}


@dataclass(frozen=True)
class RosteredShift:
    agent: str
    day: date  # local date of the start
    start: time  # local
    minutes: int  # wall-clock length


@dataclass(frozen=True)
class Check:
    violations: tuple[str, ...]
    cost_cents: int
    short_agent_intervals: int  # sum over intervals of agents short
    coverage: float  # share of required intervals fully covered
    objective: int  # cost, the penalty for agents short, the weight of requests not granted
    requests: int = 0  # requests of the roster's agents on its days
    granted: frozenset[str] = frozenset()  # the ids of those granted

    @property
    def feasible(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class RosterResult:
    shifts: tuple[RosteredShift, ...]
    status: str
    seconds: float
    greedy_objective: int
    objective: int


# -- times ---------------------------------------------------------------------------------


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None if DST skips it."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return utc


def shift_interval(shift: RosteredShift, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Real start and end (UTC) of a shift; None if its start or end does not exist locally."""
    start = local_to_utc(shift.day, shift.start, zone)
    end_local = datetime.combine(shift.day, shift.start) + timedelta(minutes=shift.minutes)
    end = local_to_utc(end_local.date(), end_local.time(), zone)
    if start is None or end is None:
        return None
    return start, end


# -- the generator -------------------------------------------------------------------------


def generate(
    *,
    agents: int = 500,
    days: int = 14,
    first_day: date = date(2027, 3, 22),
    seed: int = 18,
    load: float = 0.6,
) -> RosterProblem:
    """A client served around the clock from Manila, Bangalore and Krakow: the fortnight from
    Monday 22 March 2027 holds Europe's change to summer time (Sunday 28 March, 02:00 to
    03:00 in Krakow) and Easter's public holidays (Maundy Thursday to Black Saturday in the
    Philippines, Good Friday in India, Easter Sunday and Monday in Poland). Demand follows the
    sun (Asia-Pacific, Europe, Americas business hours in UTC, lower at weekends); `load` is
    the required agent-hours over what the agents could work at most."""
    rng = random.Random(seed)
    centers = (
        Center("MNL", "Asia/Manila", "PH", 650),
        Center("BLR", "Asia/Kolkata", "IN", 750),
        Center("KRK", "Europe/Warsaw", "PL", 1900),
    )
    share = {"MNL": 0.45, "BLR": 0.30, "KRK": 0.25}
    # local start windows (hours): Manila works nights for the Americas too
    windows = {"MNL": (0.0, 24.0), "BLR": (6.0, 15.0), "KRK": (6.0, 14.0)}
    # the requirement starts at the first local midnight (Manila's, the easternmost centre)
    # and lasts `days`: every interval can be reached by some centre's local days
    start_utc = datetime.combine(first_day, time(0), ZoneInfo("Asia/Manila")).astimezone(UTC)
    quarters = days * 96
    shape = [_sun(start_utc + q * QUARTER) for q in range(quarters)]

    # each agent's usual start: where the weekday demand not yet planned is largest over the
    # 8 hours after it (a planner fitting the centres' shifts to the curve)
    monday = datetime.combine(first_day, time(0), UTC)
    weekday = [_sun(monday + q * QUARTER) for q in range(96)]  # by UTC quarter-hour of a day
    planned = [0.0] * 96
    total_weekday = sum(weekday)
    per_agent = total_weekday / agents
    order = [c for c in centers for _ in range(round(agents * share[c.id]))][:agents]
    while len(order) < agents:
        order.append(centers[0])
    rng.shuffle(order)
    counters = dict.fromkeys(share, 0)
    made: list[Agent] = []
    for center in order:
        zone = ZoneInfo(center.zone)
        offset = datetime.combine(first_day, time(12), zone).utcoffset() or timedelta()
        low, high = windows[center.id]
        best_start, best_gap = low, float("-inf")
        for half_hours in range(int(low * 2), int(high * 2)):  # 30-minute grid
            local_start = half_hours / 2
            q0 = int(((local_start - offset.total_seconds() / 3600) % 24) * 4)
            gap = sum(weekday[(q0 + k) % 96] - planned[(q0 + k) % 96] for k in range(32))
            if gap > best_gap:
                best_start, best_gap = local_start, gap
        q0 = int(((best_start - offset.total_seconds() / 3600) % 24) * 4)
        for k in range(32):
            planned[(q0 + k) % 96] += per_agent / 32 * 2.2
        preferred = best_start
        counters[center.id] += 1
        minutes = rng.choice((480, 480, 540))
        offsets = [-60, -30, 0, 30, 60] + ([240] if rng.random() < 0.5 else [])
        starts = tuple(
            sorted(
                {
                    _clock((preferred * 60 + o) % 1440)
                    for o in offsets
                    if low * 60 <= preferred * 60 + o < high * 60 or center.id == "MNL"
                }
            )
        )
        leave: set[date] = set()
        if rng.random() < 0.15:
            begin = rng.randrange(days)
            leave = {first_day + timedelta(days=begin + k) for k in range(rng.randint(1, 3))}
        made.append(
            Agent(
                f"{center.id}-{counters[center.id]:03d}",
                center.id,
                minutes,
                starts,
                frozenset(d for d in leave if (d - first_day).days < days),
                holiday_volunteer=rng.random() < 0.6,
            )
        )
    # scale demand: the agents could work at most about 5 shifts a week
    capacity_quarters = sum(a.shift_minutes / 15 * 5 * days / 7 for a in made)
    scale = load * capacity_quarters / sum(shape)
    requirement = tuple(max(0, round(s * scale)) for s in shape)
    return RosterProblem(first_day, days, start_utc, requirement, centers, tuple(made))


def _sun(at: datetime) -> float:
    """Relative demand at a UTC instant: the three regions' business days, overlapping."""
    hour = at.hour + at.minute / 60
    day = at.date()

    def bump(center_hour: float, width: float) -> float:
        distance = min(abs(hour - center_hour), 24 - abs(hour - center_hour))
        return max(0.0, 1 - (distance / width) ** 2)

    apac, emea, americas = bump(4, 6), bump(12, 6), bump(18.5, 6)
    level = 0.25 + apac + 1.2 * emea + 1.1 * americas
    return level * (0.6 if day.weekday() >= 5 else 1.0)


def _clock(minutes: float) -> time:
    m = int(minutes) % 1440
    return time(m // 60, m % 60)


# -- options: what each agent could work each day ------------------------------------------


@dataclass(frozen=True)
class _Option:
    agent: int
    day: int
    start: time
    begin: datetime  # UTC
    end: datetime
    quarters: tuple[int, ...]  # requirement intervals fully inside the shift
    cost: int
    week: int
    weekend: int | None
    real_minutes: int


def _options(problem: RosterProblem) -> list[_Option]:
    found = []
    holiday_sets = {c.id: problem.holidays_of(c) for c in problem.centers}
    centers = {c.id: c for c in problem.centers}
    horizon = len(problem.requirement)
    for a, agent in enumerate(problem.agents):
        center = centers[agent.center]
        zone = ZoneInfo(center.zone)
        for d in range(problem.days):
            day = problem.first_day + timedelta(days=d)
            holiday = day in holiday_sets[center.id]
            if day in agent.leave or (holiday and not agent.holiday_volunteer):
                continue
            for start in agent.starts_on(day):
                shift = RosteredShift(agent.id, day, start, agent.shift_minutes)
                times = shift_interval(shift, zone)
                if times is None:
                    continue
                begin, end = times
                if agent.free_from is not None and begin < agent.free_from:
                    continue  # too soon after the shift before the roster
                first = (begin - problem.start_utc) // QUARTER
                last = (end - problem.start_utc) // QUARTER
                quarters = tuple(q for q in range(max(0, first), min(horizon, last)))
                cost = _cost(begin, end, zone, center.hourly_rate_cents, problem.rules, holiday)
                found.append(
                    _Option(
                        a,
                        d,
                        start,
                        begin,
                        end,
                        quarters,
                        cost,
                        d // 7,
                        d // 7 if day.weekday() >= 5 else None,
                        int((end - begin).total_seconds() // 60),
                    )
                )
    return found


def _cost(
    begin: datetime, end: datetime, zone: ZoneInfo, rate: int, rules: LabourRules, holiday: bool
) -> int:
    minutes = 0
    night = 0
    at = begin
    while at < end:  # minute by minute would be exact; shifts are on a 15-minute grid
        local = at.astimezone(zone)
        if local.hour >= 22 or local.hour < 6:
            night += 15
        minutes += 15
        at += QUARTER
    base = rate * minutes / 60
    total = base + rate * night / 60 * rules.night_premium_pct / 100
    if holiday:
        total += base * rules.holiday_premium_pct / 100
    return round(total)


# -- solving -------------------------------------------------------------------------------


def solve(problem: RosterProblem, *, time_limit: float = 110.0, workers: int = 2) -> RosterResult:
    started = clock.perf_counter()
    options = _options(problem)
    by_agent_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, option in enumerate(options):
        by_agent_day[option.agent, option.day].append(i)
    conflicts = _rest_conflicts(problem, options, by_agent_day)
    terms = _request_terms(problem, options, by_agent_day)
    greedy = _greedy(problem, options, by_agent_day, conflicts, terms)
    greedy_objective = _objective(problem, options, greedy, terms)

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(options))]
    rules = problem.rules
    agents = len(problem.agents)
    worked: dict[tuple[int, int], cp_model.LinearExprT] = {}
    for a in range(agents):
        for d in range(problem.days):
            today = [x[i] for i in by_agent_day.get((a, d), [])]
            if today:
                model.add_at_most_one(today)
            worked[a, d] = sum(today) if today else 0
        for d in range(problem.days - rules.max_consecutive_days):
            window = [worked[a, k] for k in range(d, d + rules.max_consecutive_days + 1)]
            model.add(sum(window) <= rules.max_consecutive_days)
        # the days worked in a row just before the roster: a window reaching back over v of
        # them leaves room for max - v days of its own
        before = min(problem.agents[a].worked_before, rules.max_consecutive_days)
        for v in range(1, before + 1):
            reach = min(problem.days, rules.max_consecutive_days + 1 - v)
            model.add(sum(worked[a, k] for k in range(reach)) <= rules.max_consecutive_days - v)
        weeks: dict[int, list[int]] = defaultdict(list)
        weekends: dict[int, list[int]] = defaultdict(list)
        for d in range(problem.days):
            for i in by_agent_day.get((a, d), []):
                weeks[options[i].week].append(i)
                weekend = options[i].weekend
                if weekend is not None:
                    weekends[weekend].append(i)
        for in_week in weeks.values():
            model.add(sum(x[i] for i in in_week) <= rules.max_shifts_per_week)
            model.add(
                sum(options[i].real_minutes * x[i] for i in in_week) <= rules.max_minutes_per_week
            )
        if len(weekends) > rules.max_weekends:
            flags = []
            for k, on_weekend in weekends.items():
                flag = model.new_bool_var(f"weekend{a}_{k}")
                for i in on_weekend:
                    model.add_implication(x[i], flag)
                flags.append(flag)
            model.add(sum(flags) <= rules.max_weekends)
    for i, j in conflicts:
        model.add_bool_or([x[i].Not(), x[j].Not()])

    covering: list[list[int]] = [[] for _ in problem.requirement]
    for i, option in enumerate(options):
        for q in option.quarters:
            covering[q].append(i)
    short_terms = []
    for q, need in enumerate(problem.requirement):
        if need <= 0:
            continue
        short = model.new_int_var(0, need, f"short{q}")
        model.add(sum(x[i] for i in covering[q]) + short >= need)
        short_terms.append(short)
    cost = sum(option.cost * x[i] for i, option in enumerate(options))
    # a request not granted: a day off worked anyway, or no shift at the start asked
    asked = sum(
        term.weight * sum(x[i] for i in term.hits)
        if term.off
        else term.weight * (1 - sum(x[i] for i in term.hits))
        for term in terms
    )
    model.minimize(cost + problem.uncovered_penalty_cents * sum(short_terms) + asked)
    for i, var in enumerate(x):
        model.add_hint(var, i in greedy)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(1.0, time_limit - (clock.perf_counter() - started))
    solver.parameters.num_workers = workers
    solver.parameters.linearization_level = 0  # a large model: search first, LP bound later
    status = solver.solve(model)
    chosen = greedy
    name = "GREEDY"
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = {i for i, var in enumerate(x) if solver.boolean_value(var)}
        if _objective(problem, options, found, terms) <= greedy_objective:
            chosen, name = found, solver.status_name(status)
    shifts = tuple(
        sorted(
            (
                RosteredShift(
                    problem.agents[options[i].agent].id,
                    problem.first_day + timedelta(days=options[i].day),
                    options[i].start,
                    problem.agents[options[i].agent].shift_minutes,
                )
                for i in chosen
            ),
            key=lambda s: (s.agent, s.day),
        )
    )
    return RosterResult(
        shifts,
        name,
        round(clock.perf_counter() - started, 2),
        greedy_objective,
        _objective(problem, options, chosen, terms),
    )


@dataclass(frozen=True)
class _Term:
    """A request in the model: the options that break it (a day off: any shift that day) or
    grant it (a start: a shift that day at that start), and its weight."""

    weight: int
    off: bool
    hits: tuple[int, ...]


def _request_terms(
    problem: RosterProblem, options: list[_Option], by_agent_day: dict[tuple[int, int], list[int]]
) -> list[_Term]:
    terms = []
    for a, agent in enumerate(problem.agents):
        for request in agent.requests:
            d = (request.day - problem.first_day).days
            if not 0 <= d < problem.days:
                continue
            today = by_agent_day.get((a, d), [])
            off = request.kind == "day_off"
            hits = tuple(i for i in today if off or options[i].start == request.start)
            terms.append(_Term(problem.weight(request), off, hits))
    return terms


def _rest_conflicts(
    problem: RosterProblem, options: list[_Option], by_agent_day: dict[tuple[int, int], list[int]]
) -> list[tuple[int, int]]:
    """Pairs of options of one agent closer than the minimum rest (or overlapping)."""
    rest = timedelta(minutes=problem.rules.min_rest_minutes)
    pairs = []
    for (a, d), today in by_agent_day.items():
        for gap in (1, 2):  # a 9-hour shift and 11 hours' rest fit in well under two days
            for i in today:
                for j in by_agent_day.get((a, d + gap), []):
                    if options[j].begin - options[i].end < rest:
                        pairs.append((i, j))
    return pairs


def _greedy(
    problem: RosterProblem,
    options: list[_Option],
    by_agent_day: dict[tuple[int, int], list[int]],
    conflicts: list[tuple[int, int]],
    terms: Sequence[_Term] = (),
) -> set[int]:
    """Set-cover style: while an interval is short, the allowed shift covering it that covers
    the most still-short intervals per cost (less a day off it breaks, plus a start asked it
    grants) is added."""
    rules = problem.rules
    asked: dict[int, int] = defaultdict(int)
    for term in terms:
        for i in term.hits:
            asked[i] += -term.weight if term.off else term.weight
    short = list(problem.requirement)
    clash: dict[int, set[int]] = defaultdict(set)
    for i, j in conflicts:
        clash[i].add(j)
        clash[j].add(i)
    covering: list[list[int]] = [[] for _ in short]
    for i, option in enumerate(options):
        for q in option.quarters:
            covering[q].append(i)
    chosen: set[int] = set()
    days_worked: dict[int, set[int]] = defaultdict(set)
    week_shifts: dict[tuple[int, int], int] = defaultdict(int)
    week_minutes: dict[tuple[int, int], int] = defaultdict(int)
    weekends: dict[int, set[int]] = defaultdict(set)

    def allowed(i: int) -> bool:
        option = options[i]
        a, d = option.agent, option.day
        worked = days_worked[a]
        if d in worked or clash[i] & chosen:
            return False
        run = 1
        k = d - 1
        while k in worked:
            run, k = run + 1, k - 1
        if k == -1:  # back to the roster's first day: the days worked before it too
            run += problem.agents[a].worked_before
        k = d + 1
        while k in worked:
            run, k = run + 1, k + 1
        if run > rules.max_consecutive_days:
            return False
        if week_shifts[a, option.week] + 1 > rules.max_shifts_per_week:
            return False
        if week_minutes[a, option.week] + option.real_minutes > rules.max_minutes_per_week:
            return False
        return not (
            option.weekend is not None
            and option.weekend not in weekends[a]
            and len(weekends[a]) >= rules.max_weekends
        )

    blocked: set[int] = set()
    while True:
        open_quarters = [q for q, n in enumerate(short) if n > 0 and q not in blocked]
        if not open_quarters:
            break
        q = max(open_quarters, key=lambda k: short[k])
        best, best_value = None, float("-inf")
        for i in covering[q]:
            if not allowed(i):
                continue
            option = options[i]
            gain = sum(1 for k in option.quarters if short[k] > 0)
            value = gain * problem.uncovered_penalty_cents - option.cost + asked[i]
            if value > best_value:
                best, best_value = i, value
        if best is None or best_value <= 0:
            blocked.add(q)
            continue
        option = options[best]
        chosen.add(best)
        days_worked[option.agent].add(option.day)
        week_shifts[option.agent, option.week] += 1
        week_minutes[option.agent, option.week] += option.real_minutes
        if option.weekend is not None:
            weekends[option.agent].add(option.weekend)
        for k in option.quarters:
            short[k] -= 1
    return chosen


def _objective(
    problem: RosterProblem, options: list[_Option], chosen: Iterable[int], terms: Sequence[_Term]
) -> int:
    chosen = set(chosen)
    staffed = [0] * len(problem.requirement)
    cost = 0
    for term in terms:
        if term.off == bool(chosen.intersection(term.hits)):
            cost += term.weight  # a day off worked, or a start asked not given
    for i in chosen:
        cost += options[i].cost
        for q in options[i].quarters:
            staffed[q] += 1
    short = sum(
        max(0, need - have) for need, have in zip(problem.requirement, staffed, strict=True)
    )
    return cost + problem.uncovered_penalty_cents * short


# -- the independent check -----------------------------------------------------------------


def check(problem: RosterProblem, shifts: Sequence[RosteredShift]) -> Check:
    """Every labour rule, cost and coverage, recomputed from the shifts' times alone."""
    rules = problem.rules
    agents = {a.id: a for a in problem.agents}
    centers = {c.id: c for c in problem.centers}
    holiday_sets = {c.id: problem.holidays_of(c) for c in problem.centers}
    violations: list[str] = []
    staffed = [0] * len(problem.requirement)
    cost = 0
    per_agent: dict[str, list[tuple[RosteredShift, datetime, datetime]]] = defaultdict(list)
    for shift in shifts:
        agent = agents.get(shift.agent)
        if agent is None:
            violations.append(f"{shift.agent}: unknown agent")
            continue
        center = centers[agent.center]
        zone = ZoneInfo(center.zone)
        if not 0 <= (shift.day - problem.first_day).days < problem.days:
            violations.append(f"{shift.agent} {shift.day}: outside the roster's days")
        if shift.start not in agent.starts_on(shift.day) or shift.minutes != agent.shift_minutes:
            violations.append(f"{shift.agent} {shift.day}: not one of the agent's shifts")
        if shift.day in agent.leave:
            violations.append(f"{shift.agent} {shift.day}: on leave")
        holiday = shift.day in holiday_sets[center.id]
        if holiday and not agent.holiday_volunteer:
            violations.append(f"{shift.agent} {shift.day}: public holiday, not volunteered")
        start_local = datetime.combine(shift.day, shift.start)
        end_local = start_local + timedelta(minutes=shift.minutes)
        begin = start_local.replace(tzinfo=zone).astimezone(UTC)
        end = end_local.replace(tzinfo=zone).astimezone(UTC)
        if (
            begin.astimezone(zone).replace(tzinfo=None) != start_local
            or end.astimezone(zone).replace(tzinfo=None) != end_local
        ):
            violations.append(f"{shift.agent} {shift.day}: a local time DST skips")
        if agent.free_from is not None and begin < agent.free_from:
            violations.append(f"{shift.agent} {shift.day}: too soon after the shift before")
        per_agent[shift.agent].append((shift, begin, end))
        # cost: real minutes, night minutes by quarter-hours of real time (shifts and the
        # night's bounds are on that grid in every zone here)
        real = int((end - begin).total_seconds() // 60)
        night = 15 * sum(
            1
            for m in range(0, real, 15)
            if not 6 <= (begin + timedelta(minutes=m)).astimezone(zone).hour < 22
        )
        base = center.hourly_rate_cents * real / 60
        total = base + center.hourly_rate_cents * night / 60 * rules.night_premium_pct / 100
        if holiday:
            total += base * rules.holiday_premium_pct / 100
        cost += round(total)
        # on duty in every interval the shift spans in full
        first = -((problem.start_utc - begin) // QUARTER)  # the first interval starting in it
        last = (end - problem.start_utc) // QUARTER  # intervals ending by its end
        for q in range(max(0, first), min(len(staffed), last)):
            staffed[q] += 1

    for agent_id, worked in per_agent.items():
        worked.sort(key=lambda item: item[1])
        days = [s.day for s, _, _ in worked]
        if len(set(days)) != len(days):
            violations.append(f"{agent_id}: two shifts on one day")
        for (_, _, end), (nxt, begin, _) in itertools.pairwise(worked):
            if (begin - end).total_seconds() < rules.min_rest_minutes * 60:
                hours = (begin - end).total_seconds() / 3600
                violations.append(f"{agent_id} {nxt.day}: {hours:.1f} h rest only")
        day_set = set(days)
        before = agents[agent_id].worked_before
        for final_day in day_set:
            run = 1
            while final_day - timedelta(days=run) in day_set:
                run += 1
            if final_day - timedelta(days=run) == problem.first_day - timedelta(days=1):
                run += before  # the run began before the roster
            if run > rules.max_consecutive_days:
                violations.append(f"{agent_id} {final_day}: {run} days in a row")
        weeks: dict[date, list[int]] = defaultdict(list)
        for s, begin, end in worked:
            monday = s.day - timedelta(days=s.day.weekday())
            weeks[monday].append(int((end - begin).total_seconds() // 60))
        for monday, minutes in weeks.items():
            if len(minutes) > rules.max_shifts_per_week:
                violations.append(f"{agent_id} week {monday}: {len(minutes)} shifts")
            if sum(minutes) > rules.max_minutes_per_week:
                violations.append(f"{agent_id} week {monday}: {sum(minutes)} minutes")
        weekend_weeks = {
            s.day - timedelta(days=s.day.weekday()) for s, _, _ in worked if s.day.weekday() >= 5
        }
        if len(weekend_weeks) > rules.max_weekends:
            violations.append(f"{agent_id}: {len(weekend_weeks)} weekends worked")

    required = [q for q, need in enumerate(problem.requirement) if need > 0]
    covered = sum(1 for q in required if staffed[q] >= problem.requirement[q])
    short = sum(max(0, n - s) for n, s in zip(problem.requirement, staffed, strict=True))
    asked, granted, missed = _requests_granted(problem, shifts)
    return Check(
        tuple(violations),
        cost,
        short,
        covered / len(required) if required else 1.0,
        cost + problem.uncovered_penalty_cents * short + missed,
        asked,
        granted,
    )


def _requests_granted(
    problem: RosterProblem, shifts: Sequence[RosteredShift]
) -> tuple[int, frozenset[str], int]:
    """The requests on the roster's days, the ids of those the shifts grant (a day off: no
    shift that local date; a start: a shift that date at that local start), and the weight of
    those they do not."""
    starts: dict[tuple[str, date], set[time]] = defaultdict(set)
    for shift in shifts:
        starts[shift.agent, shift.day].add(shift.start)
    asked, missed = 0, 0
    granted = set()
    for agent in problem.agents:
        for request in agent.requests:
            if not 0 <= (request.day - problem.first_day).days < problem.days:
                continue
            asked += 1
            worked = starts.get((agent.id, request.day), set())
            if (not worked) if request.kind == "day_off" else request.start in worked:
                granted.add(request.id)
            else:
                missed += problem.weight(request)
    return asked, frozenset(granted), missed
