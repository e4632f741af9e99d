"""The Curtois-Qu benchmark solved with OR-Tools CP-SAT.

One boolean per person, day and shift type (none on a fixed day off or for a type the person
may not work); a person's day worked is their sum (at most one). The rules of `scoring` as
clauses and linear constraints: a forbidden succession is a clause of two; a maximum run as
"every window of max+1 days has at most max worked"; a minimum run (shifts or days off) as
clauses forbidding each too-short pattern strictly inside the horizon (runs touching its
edges are allowed, as the benchmark's model allows them); a weekend worked as a boolean
implied by Saturday and Sunday. The objective is the benchmark's, integral, with the
on-requests' weights as a constant minus the granted ones."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from tandem.workforce.rostering.instances import Instance, Schedule


@dataclass(frozen=True)
class Solution:
    schedule: Schedule | None  # None when no feasible schedule was found in time
    objective: int | None
    bound: float  # the solver's proven lower bound on the objective
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN
    seconds: float


def solve(
    instance: Instance,
    *,
    time_limit: float = 60.0,
    workers: int = 2,
    seed: int = 0,
) -> Solution:
    started = time.perf_counter()
    model = cp_model.CpModel()
    days, staff, shifts = instance.days, instance.staff, instance.shifts
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    for p, person in enumerate(staff):
        for d in range(days):
            if d in person.days_off:
                continue
            for s, shift in enumerate(shifts):
                if person.max_shifts.get(shift.id, days) > 0:
                    x[p, d, s] = model.new_bool_var(f"x{p}_{d}_{s}")
    false = model.new_constant(0)

    def var(p: int, d: int, s: int) -> cp_model.IntVar:
        return x.get((p, d, s), false)

    worked: dict[tuple[int, int], cp_model.IntVar] = {}
    for p in range(len(staff)):
        for d in range(days):
            today = [x[p, d, s] for s in range(len(shifts)) if (p, d, s) in x]
            if not today:
                worked[p, d] = false
                continue
            w = model.new_bool_var(f"w{p}_{d}")
            model.add(sum(today) == w)
            worked[p, d] = w

    index = {shift.id: s for s, shift in enumerate(shifts)}
    for p, person in enumerate(staff):
        row = [worked[p, d] for d in range(days)]
        for s, shift in enumerate(shifts):
            limit = person.max_shifts.get(shift.id)
            if limit is not None and limit < days:
                model.add(sum(var(p, d, s) for d in range(days)) <= limit)
            for follow in shift.cannot_follow:
                t = index[follow]
                for d in range(days - 1):
                    if (p, d, s) in x and (p, d + 1, t) in x:
                        model.add_bool_or([x[p, d, s].Not(), x[p, d + 1, t].Not()])
        minutes = sum(
            shift.minutes * var(p, d, s) for d in range(days) for s, shift in enumerate(shifts)
        )
        model.add_linear_constraint(minutes, person.min_minutes, person.max_minutes)
        most = person.max_consecutive_shifts
        for d in range(days - most):
            model.add(sum(row[d : d + most + 1]) <= most)
        _forbid_short_runs(model, row, person.min_consecutive_shifts, working=True)
        _forbid_short_runs(model, row, person.min_consecutive_days_off, working=False)
        weekend_days = [
            [row[d] for d in (7 * k + 5, 7 * k + 6) if d < days] for k in range(instance.weekends)
        ]
        if person.max_weekends < len(weekend_days):
            weekends = []
            for k, pair in enumerate(weekend_days):
                worked_weekend = model.new_bool_var(f"k{p}_{k}")
                for day_var in pair:
                    model.add_implication(day_var, worked_weekend)
                model.add_bool_or([day_var for day_var in pair] + [worked_weekend.Not()])
                weekends.append(worked_weekend)
            model.add(sum(weekends) <= person.max_weekends)

    who = {person.id: p for p, person in enumerate(staff)}
    constant = 0
    terms: list[tuple[int, cp_model.LinearExprT]] = []
    for request in instance.on_requests:
        constant += request.weight
        terms.append((-request.weight, var(who[request.staff], request.day, index[request.shift])))
    for request in instance.off_requests:
        terms.append((request.weight, var(who[request.staff], request.day, index[request.shift])))
    for cover in instance.cover:
        s = index[cover.shift]
        count = sum(var(p, cover.day, s) for p in range(len(staff)))
        under = model.new_int_var(0, cover.requirement, f"u{cover.day}_{s}")
        over = model.new_int_var(0, len(staff), f"o{cover.day}_{s}")
        model.add(count + under - over == cover.requirement)
        short = model.new_bool_var(f"short{cover.day}_{s}")  # never both short and over
        model.add(over == 0).only_enforce_if(short)
        model.add(under == 0).only_enforce_if(short.Not())
        terms.append((cover.under_weight, under))
        terms.append((cover.over_weight, over))
    objective = constant + sum(weight * term for weight, term in terms)
    model.minimize(objective)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit - _since(started))
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = 2  # the LP bound matters: cover is a sum of rows
    status = solver.solve(model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution(None, None, solver.best_objective_bound, name, _since(started))
    schedule = tuple(
        tuple(
            next(
                (
                    shift.id
                    for s, shift in enumerate(shifts)
                    if (p, d, s) in x and solver.boolean_value(x[p, d, s])
                ),
                None,
            )
            for d in range(days)
        )
        for p in range(len(staff))
    )
    objective_value = round(solver.value(objective))
    return Solution(schedule, objective_value, solver.best_objective_bound, name, _since(started))


def _forbid_short_runs(
    model: cp_model.CpModel, w: list[cp_model.IntVar], least: int, *, working: bool
) -> None:
    """No run (of days worked, or off) shorter than `least` with a day of the other kind on both
    sides: for each length 1..least-1 and start, the clause 'not this pattern'."""
    days = len(w)
    for length in range(1, least):
        for start in range(1, days - length):
            before, after = w[start - 1], w[start + length]
            run = w[start : start + length]
            if working:  # off, worked x length, off
                model.add_bool_or([before, after] + [v.Not() for v in run])
            else:  # worked, off x length, worked
                model.add_bool_or([before.Not(), after.Not(), *run])


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 2)
