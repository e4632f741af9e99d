"""The Curtois-Qu benchmark solved with OR-Tools CP-SAT.

The model: one boolean per person, day and shift type (none on a fixed day off or for a type
the person may not work); a person's day worked is their sum (at most one). The rules of
`scoring` as clauses and linear constraints: a forbidden succession is a clause of two; a
maximum run as "every window of max+1 days has at most max worked"; a minimum run (shifts or
days off) as clauses forbidding each too-short pattern strictly inside the horizon (runs
touching its edges are allowed, as the benchmark's model allows them); a weekend worked as a
boolean implied by Saturday and Sunday. The objective is the benchmark's, integral, with the
on-requests' weights as a constant minus the granted ones; cover as `count + under - over =
requirement` (both weighted positively, so at most one of them is non-zero at an optimum).

The search, within one time limit: CP-SAT on the whole model for a short first phase (small
instances are solved to optimality there), then a large neighbourhood search of our own. With
two cores, CP-SAT's own portfolio gives its LNS a fraction of one core and its lower bound
stays near zero on the larger instances; the rosters' structure gives better neighbourhoods:
each step keeps the best roster except a few people's rows, a window of days for everyone, or
a few people over a window, and re-solves that part exactly (a CP-SAT call on the model with
the other assignments fixed, the best roster as hint), one such search per worker thread
sharing the best roster. The neighbourhood's size adapts: larger after a part solved to
optimality quickly, smaller after a part that ran out of time."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from tandem.workforce.rostering.instances import Instance, Schedule

PART_SECONDS = 1.5  # at most, per part re-solved in the neighbourhood search
Cell = tuple[int, int, int]  # person, day, shift index
_Literal = cp_model.IntVar | int  # a 0-1 variable, or a constant 0 or 1


@dataclass(frozen=True)
class Solution:
    schedule: Schedule | None  # None when no feasible schedule was found in time
    objective: int | None
    bound: float  # the solver's proven lower bound on the objective
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN
    seconds: float


@dataclass
class _Built:
    model: cp_model.CpModel
    x: dict[Cell, cp_model.IntVar]
    objective: cp_model.LinearExprT


@dataclass
class _Best:
    """The best roster so far, shared by the search threads."""

    objective: int
    values: dict[Cell, int]  # every x variable's value
    lock: threading.Lock = field(default_factory=threading.Lock)


def solve(
    instance: Instance,
    *,
    time_limit: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    first_phase: float | None = None,
) -> Solution:
    """The best roster found within `time_limit` seconds in all (model building included).
    `first_phase`: seconds of the whole-model solve before the neighbourhood search (default
    a tenth of the time limit, at least 3 s; until the first roster if none by then)."""
    started = time.perf_counter()
    deadline = started + time_limit
    built = _build(instance)

    phase = first_phase if first_phase is not None else max(3.0, time_limit / 10)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2  # the LP bound matters: cover is a sum of rows
    solver.parameters.max_time_in_seconds = max(0.1, deadline - time.perf_counter())
    stopper = _StopAfter(started + phase)
    timer = threading.Timer(
        max(0.0, started + phase - time.perf_counter()), stopper.at_moment, args=(solver,)
    )
    timer.start()
    try:
        status = solver.solve(built.model, stopper)
    finally:
        timer.cancel()
    bound = solver.best_objective_bound
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution(None, None, bound, solver.status_name(status), _since(started))
    first = {cell: int(solver.boolean_value(var)) for cell, var in built.x.items()}
    best = _Best(_objective(instance, first), first)
    name = solver.status_name(status)
    if status != cp_model.OPTIMAL and best.objective > bound:
        threads = [
            threading.Thread(
                target=_neighbourhood_search,
                args=(instance, built, best, deadline, seed + 1 + k),
                daemon=True,
            )
            for k in range(max(1, workers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if best.objective <= bound:
            name = "OPTIMAL"
    return Solution(_schedule(instance, best.values), best.objective, bound, name, _since(started))


class _StopAfter(cp_model.CpSolverSolutionCallback):
    """Stops the whole-model solve at `moment` if a roster has been found by then, else at the
    first one found after it."""

    def __init__(self, moment: float) -> None:
        super().__init__()
        self.moment = moment
        self.found = False

    def on_solution_callback(self) -> None:
        self.found = True
        if time.perf_counter() >= self.moment:
            self.stop_search()

    def at_moment(self, solver: cp_model.CpSolver) -> None:
        if self.found:
            solver.stop_search()


def _build(
    instance: Instance,
    values: dict[Cell, int] | None = None,
    free: set[tuple[int, int]] | None = None,
) -> _Built:
    """The model; with `values` and `free`, the part of it where only the person-days in `free`
    are open and every other assignment is `values`' (a constant): only the people with a free
    day are modelled, the others count as constants in the cover, and a constraint with no
    open variable is left out (`values` is feasible, so it holds)."""
    model = cp_model.CpModel()
    days, staff, shifts = instance.days, instance.staff, instance.shifts
    people = range(len(staff)) if free is None else sorted({p for p, _ in free})
    x: dict[Cell, cp_model.IntVar] = {}
    cell: dict[Cell, _Literal] = {}  # every modelled person's cells, variable or constant
    for p in people:
        person = staff[p]
        for d in range(days):
            open_day = free is None or (p, d) in free
            for s, shift in enumerate(shifts):
                if d in person.days_off or person.max_shifts.get(shift.id, days) <= 0:
                    cell[p, d, s] = 0
                elif open_day:
                    x[p, d, s] = cell[p, d, s] = model.new_bool_var(f"x{p}_{d}_{s}")
                else:
                    cell[p, d, s] = values.get((p, d, s), 0) if values is not None else 0

    worked: dict[tuple[int, int], _Literal] = {}
    for p in people:
        for d in range(days):
            today = [cell[p, d, s] for s in range(len(shifts))]
            open_today = [v for v in today if not isinstance(v, int)]
            if not open_today:
                worked[p, d] = sum(v for v in today if isinstance(v, int))
                continue
            w = model.new_bool_var(f"w{p}_{d}")
            model.add(sum(open_today) == w)
            worked[p, d] = w

    index = {shift.id: s for s, shift in enumerate(shifts)}
    for p in people:
        person = staff[p]
        row = [worked[p, d] for d in range(days)]
        for s, shift in enumerate(shifts):
            limit = person.max_shifts.get(shift.id)
            if limit is not None and limit < days:
                _at_most(model, [cell[p, d, s] for d in range(days)], limit)
            for follow in shift.cannot_follow:
                t = index[follow]
                for d in range(days - 1):
                    _clause(model, [(cell[p, d, s], False), (cell[p, d + 1, t], False)])
        minutes = [
            (shift.minutes, cell[p, d, s]) for d in range(days) for s, shift in enumerate(shifts)
        ]
        if any(not isinstance(v, int) for _, v in minutes):
            model.add_linear_constraint(
                sum(m * v for m, v in minutes), person.min_minutes, person.max_minutes
            )
        most = person.max_consecutive_shifts
        for d in range(days - most):
            _at_most(model, row[d : d + most + 1], most)
        _forbid_short_runs(model, row, person.min_consecutive_shifts, working=True)
        _forbid_short_runs(model, row, person.min_consecutive_days_off, working=False)
        weekend_days = [
            [row[d] for d in (7 * k + 5, 7 * k + 6) if d < days] for k in range(instance.weekends)
        ]
        if person.max_weekends < len(weekend_days) and any(
            not isinstance(v, int) for pair in weekend_days for v in pair
        ):
            weekends: list[_Literal] = []
            for k, pair in enumerate(weekend_days):
                if all(isinstance(v, int) for v in pair):
                    weekends.append(int(any(pair)))
                    continue
                worked_weekend = model.new_bool_var(f"k{p}_{k}")
                for day_var in pair:
                    _clause(model, [(day_var, False), (worked_weekend, True)])
                _clause(model, [(v, True) for v in pair] + [(worked_weekend, False)])
                weekends.append(worked_weekend)
            _at_most(model, weekends, person.max_weekends)

    who = {person.id: p for p, person in enumerate(staff)}
    modelled = set(people)
    constant = 0
    terms: list[tuple[int, cp_model.LinearExprT]] = []
    for request in instance.on_requests:
        p = who[request.staff]
        if p in modelled:
            constant += request.weight
            terms.append((-request.weight, cell[p, request.day, index[request.shift]]))
    for request in instance.off_requests:
        p = who[request.staff]
        if p in modelled:
            terms.append((request.weight, cell[p, request.day, index[request.shift]]))
    for cover in instance.cover:
        s = index[cover.shift]
        counted = [cell[p, cover.day, s] for p in people]
        if all(isinstance(v, int) for v in counted):
            continue  # a constant part of the objective
        others = 0
        if free is not None and values is not None:
            others = sum(
                values.get((p, cover.day, s), 0) for p in range(len(staff)) if p not in modelled
            )
        count = sum(counted) + others
        under = model.new_int_var(0, cover.requirement, f"u{cover.day}_{s}")
        over = model.new_int_var(0, max(0, len(staff) - cover.requirement), f"o{cover.day}_{s}")
        model.add(count + under - over == cover.requirement)
        terms.append((cover.under_weight, under))
        terms.append((cover.over_weight, over))
    objective = constant + sum(weight * term for weight, term in terms)
    model.minimize(objective)
    return _Built(model, x, objective)


def _clause(model: cp_model.CpModel, literals: list[tuple[_Literal, bool]]) -> None:
    """At least one of the literals (a value, and whether it must be 1 or 0) holds."""
    open_literals = []
    for value, positive in literals:
        if isinstance(value, int):
            if bool(value) == positive:
                return  # already true
            continue
        open_literals.append(value if positive else value.Not())
    if open_literals:
        model.add_bool_or(open_literals)


def _at_most(model: cp_model.CpModel, values: list[_Literal], most: int) -> None:
    open_values = [v for v in values if not isinstance(v, int)]
    if open_values:
        fixed = sum(int(v) for v in values if isinstance(v, int))
        model.add(sum(open_values) <= most - fixed)


def _neighbourhood_search(
    instance: Instance, built: _Built, best: _Best, deadline: float, seed: int
) -> None:
    """Re-solve parts of the best roster until the deadline (see the module's docstring)."""
    rng = random.Random(seed)
    people, days = len(instance.staff), instance.days
    share = 0.08  # the part of the roster's person-days set free, adapted below
    while True:
        remaining = deadline - time.perf_counter()
        if remaining < 0.8:  # building and solving a part takes a moment
            return
        free = _neighbourhood(rng, people, days, share)
        with best.lock:
            values = dict(best.values)
            incumbent = best.objective
        part = _build(instance, values, free)
        for cell, var in part.x.items():
            part.model.add_hint(var, values[cell])
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = rng.randrange(1 << 30)
        solver.parameters.linearization_level = 2
        solver.parameters.max_time_in_seconds = max(0.1, min(PART_SECONDS, remaining - 0.5))
        status = solver.solve(part.model)
        if status == cp_model.OPTIMAL:
            share = min(0.6, share * 1.15)
        elif status in (cp_model.FEASIBLE, cp_model.UNKNOWN):
            share = max(0.02, share / 1.15)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            continue
        new = dict(values)
        new.update({cell: int(solver.boolean_value(var)) for cell, var in part.x.items()})
        found = _objective(instance, new)
        if found < incumbent:
            with best.lock:
                if found < best.objective:
                    best.objective = found
                    best.values = new


def _neighbourhood(
    rng: random.Random, people: int, days: int, share: float
) -> set[tuple[int, int]]:
    """The person-days set free: some people's rows, a window of days for everyone, or some
    people over a window, about `share` of the roster."""
    kind = rng.random()
    if kind < 0.4:  # some people, the whole horizon
        count = max(2, min(people, round(share * people)))
        chosen = rng.sample(range(people), count)
        return {(p, d) for p in chosen for d in range(days)}
    if kind < 0.6:  # everyone, a window of days
        length = max(2, min(days, round(share * days)))
        start = rng.randrange(days - length + 1)
        return {(p, d) for p in range(people) for d in range(start, start + length)}
    # some people over a window twice as large a share of the horizon
    length = max(3, min(days, round(min(1.0, 2 * share) * days) + 3))
    count = max(2, min(people, round(share / max(0.05, length / days) * people)))
    start = rng.randrange(days - length + 1)
    chosen = rng.sample(range(people), count)
    return {(p, d) for p in chosen for d in range(start, start + length)}


def _objective(instance: Instance, values: dict[Cell, int]) -> int:
    """The objective of a roster given as the x variables' values: the solver's own value may
    count a cover line both short and over (an equal under and over cost nothing to the model's
    feasibility) until it has proved the part optimal."""
    index = {shift.id: s for s, shift in enumerate(instance.shifts)}
    who = {person.id: p for p, person in enumerate(instance.staff)}
    total = 0
    for request in instance.on_requests:
        if not values.get((who[request.staff], request.day, index[request.shift]), 0):
            total += request.weight
    for request in instance.off_requests:
        if values.get((who[request.staff], request.day, index[request.shift]), 0):
            total += request.weight
    for cover in instance.cover:
        s = index[cover.shift]
        count = sum(values.get((p, cover.day, s), 0) for p in range(len(instance.staff)))
        if count < cover.requirement:
            total += (cover.requirement - count) * cover.under_weight
        else:
            total += (count - cover.requirement) * cover.over_weight
    return total


def _schedule(instance: Instance, values: dict[Cell, int]) -> Schedule:
    shifts = instance.shifts
    return tuple(
        tuple(
            next(
                (shift.id for s, shift in enumerate(shifts) if values.get((p, d, s), 0)),
                None,
            )
            for d in range(instance.days)
        )
        for p in range(len(instance.staff))
    )


def _forbid_short_runs(
    model: cp_model.CpModel, w: list[_Literal], least: int, *, working: bool
) -> None:
    """No run (of days worked, or off) shorter than `least` with a day of the other kind on both
    sides: for each length 1..least-1 and start, the clause 'not this pattern'."""
    days = len(w)
    for length in range(1, least):
        for start in range(1, days - length):
            before, after = w[start - 1], w[start + length]
            run = w[start : start + length]
            if working:  # off, worked x length, off
                _clause(model, [(before, True), (after, True)] + [(v, False) for v in run])
            else:  # worked, off x length, worked
                _clause(model, [(before, False), (after, False)] + [(v, True) for v in run])


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 2)
