"""The CP-SAT search on the Curtois-Qu instances: the parts re-solved by the neighbourhood
search (everything outside a part kept, every rule still held, as re-scored independently),
the whole search within its time limit, and the benchmark run on the instances alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tandem.bench import rostering as bench
from tandem.workforce.rostering import cpsat, instances, scoring

SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "shift-scheduling"
needs_instances = pytest.mark.skipif(not SHARED.is_dir(), reason="benchmark instances absent")


def _values(instance: instances.Instance, schedule: instances.Schedule) -> dict:
    index = {shift.id: s for s, shift in enumerate(instance.shifts)}
    return {
        (p, d, index[shift]): 1
        for p, row in enumerate(schedule)
        for d, shift in enumerate(row)
        if shift is not None
    }


def _solve_part(instance, values, free):
    from ortools.sat.python import cp_model

    part = cpsat._build(instance, values, free)
    for cell, var in part.x.items():
        part.model.add_hint(var, values.get(cell, 0))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 60
    status = solver.solve(part.model)
    assert status == cp_model.OPTIMAL, solver.status_name(status)
    new = dict(values)
    new.update({cell: int(solver.boolean_value(var)) for cell, var in part.x.items()})
    return {cell: value for cell, value in new.items() if value}, len(part.x)


@needs_instances
@pytest.mark.parametrize("kind", ["people", "window"])
def test_a_re_solved_part_keeps_the_rest_and_every_rule(kind):
    instance = instances.load(SHARED / "Instance4.txt")
    first = cpsat.solve(instance, time_limit=3, workers=2, first_phase=0.1)
    assert first.schedule is not None
    before = scoring.score(instance, first.schedule)
    assert before.feasible, before.violations
    values = _values(instance, first.schedule)
    people, days = len(instance.staff), instance.days
    if kind == "people":  # two people's whole rows
        free = {(p, d) for p in (0, people - 1) for d in range(days)}
    else:  # everyone, days 6 to 10 (a weekend inside)
        free = {(p, d) for p in range(people) for d in range(6, 11)}
    after_values, open_cells = _solve_part(instance, values, free)
    assert open_cells > 0
    after = cpsat._schedule(instance, after_values)
    for p in range(people):
        for d in range(days):
            if (p, d) not in free:
                assert after[p][d] == first.schedule[p][d], (p, d)
    scored = scoring.score(instance, after)
    assert scored.feasible, scored.violations
    assert scored.objective <= before.objective
    assert cpsat._objective(instance, after_values) == scored.objective


@needs_instances
def test_the_part_of_everything_is_the_whole_model():
    instance = instances.load(SHARED / "Instance1.txt")
    empty = {(p, d) for p in range(len(instance.staff)) for d in range(instance.days)}
    first = cpsat.solve(instance, time_limit=1, workers=2, first_phase=0.1)
    assert first.schedule is not None
    best, _ = _solve_part(instance, _values(instance, first.schedule), empty)
    assert cpsat._objective(instance, best) == 607  # proven optimal: the benchmark's optimum


@needs_instances
def test_the_search_on_a_larger_instance_is_feasible_in_time_and_re_scores_the_same():
    instance = instances.load(SHARED / "Instance7.txt")
    solution = cpsat.solve(instance, time_limit=12, workers=2, first_phase=2)
    assert solution.schedule is not None
    scored = scoring.score(instance, solution.schedule)
    assert scored.feasible, scored.violations
    assert scored.objective == solution.objective
    assert solution.objective >= solution.bound
    assert solution.seconds <= 12 + 1.5


@needs_instances
def test_the_benchmark_on_the_instances_alone(tmp_path):
    shutil.copy(SHARED / "Instance1.txt", tmp_path / "Instance1.txt")
    lines: list[str] = []
    figures = bench.run(
        postgres_url=None, quick=True, log=lines.append, instances=tmp_path, only_instances=True
    )
    assert [row["name"] for row in figures["instances"]] == ["Instance1"]
    assert figures["instances_solved"] == 1
    assert figures["mean_gap"] == 0.0  # instance 1 is solved to optimality in seconds
    assert "large_coverage" not in figures
    assert figures["targets_met"] is True, figures["targets_missed"]
