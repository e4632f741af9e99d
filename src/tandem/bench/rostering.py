"""`tandem bench rostering`: rosters solved by CP-SAT, on the benchmark and on a realistic case.

1. The Curtois-Qu shift scheduling instances 1-12 (`../shared/benchmarks/shift-scheduling/`,
   or every `*.txt` of `--instances DIR`), each solved for at most 60 s (10 s and instances
   1-4 with --quick) with 2 workers; per instance the objective, the best known value (from
   the folder's README table when the file is one of the benchmark's), the gap
   `(objective - best) / best`, whether every hard constraint holds as re-scored by
   `rostering.scoring` (independent of the model), and the seconds. `mean_gap` and `max_gap`
   over the instances with a best known value; `instances_solved`: feasible schedules.
   Target: mean gap at most 1 %.
2. The realistic case (`rostering.realistic`): 500 agents in Manila, Bangalore and Krakow, 14
   days from Monday 22 March 2027 (Krakow's change to summer time, Easter holidays), 15-minute
   requirements; solved within 120 s (`large_seconds`), the roster re-checked independently:
   `large_feasible`, `large_coverage` (share of required intervals fully covered, target at
   least 98 %). --quick: 120 agents, 40 s. `--only-instances` leaves this part out (to
   measure the benchmark's instances alone; its figures and targets are then absent).

No database: `postgres_url` is accepted and unused."""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tandem.bench.intake import Log
from tandem.core.errors import InvalidInput
from tandem.workforce.rostering import cpsat, realistic, scoring
from tandem.workforce.rostering import instances as instance_files

SHARED = Path(__file__).resolve().parents[4] / "shared" / "benchmarks" / "shift-scheduling"
BEST_KNOWN = {
    "Instance1": 607,
    "Instance2": 828,
    "Instance3": 1001,
    "Instance4": 1716,
    "Instance5": 1143,
    "Instance6": 1950,
    "Instance7": 1056,
    "Instance8": 1300,
    "Instance9": 439,
    "Instance10": 4631,
    "Instance11": 3443,
    "Instance12": 4040,
}
TARGET_MEAN_GAP = 0.01
TARGET_COVERAGE = 0.98
LARGE_SECONDS = 120.0


def run(
    *,
    postgres_url: str | None,
    quick: bool,
    log: Log,
    instances: Path | None = None,
    only_instances: bool = False,
) -> dict[str, Any]:
    started = time.perf_counter()
    figures: dict[str, Any] = {"benchmark": "rostering", "quick": quick}
    folder = Path(instances) if instances is not None else _shared_folder()
    files = sorted(folder.glob("*.txt"), key=_natural)
    if instances is None:
        files = [f for f in files if f.stem in BEST_KNOWN]
        if quick:
            files = [f for f in files if f.stem in {f"Instance{n}" for n in range(1, 5)}]
    limit = 10.0 if quick else 60.0
    rows = []
    for path in files:
        rows.append(_solve_file(path, limit, log))
    gaps = [row["gap"] for row in rows if row["gap"] is not None]
    figures["instances"] = rows
    figures["instances_solved"] = sum(1 for row in rows if row["feasible"])
    figures["mean_gap"] = round(statistics.mean(gaps), 4) if gaps else None
    figures["max_gap"] = round(max(gaps), 4) if gaps else None
    missed = []
    if figures["mean_gap"] is not None and figures["mean_gap"] > TARGET_MEAN_GAP:
        missed.append(f"mean_gap <= {TARGET_MEAN_GAP}")
    if figures["instances_solved"] < len(rows):
        missed.append("every instance feasible")
    if not only_instances:
        missed += _realistic_case(figures, quick, log)
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def _realistic_case(figures: dict[str, Any], quick: bool, log: Log) -> list[str]:
    """Solves and checks the realistic case into `figures`; the targets it missed."""
    agents, seconds = (120, 40.0) if quick else (500, LARGE_SECONDS - 10)
    problem = realistic.generate(agents=agents)
    log(f"realistic case: {agents} agents, {problem.days} days, 15-minute intervals")
    solved = realistic.solve(problem, time_limit=seconds)
    checked = realistic.check(problem, solved.shifts)
    figures["large_agents"] = agents
    figures["large_seconds"] = solved.seconds
    figures["large_status"] = solved.status
    figures["large_feasible"] = checked.feasible
    figures["large_coverage"] = round(checked.coverage, 4)
    figures["large_short_agent_intervals"] = checked.short_agent_intervals
    figures["large_cost_cents"] = checked.cost_cents
    figures["large_shifts"] = len(solved.shifts)
    if checked.violations:
        figures["large_violations"] = list(checked.violations[:10])
    log(
        f"realistic: coverage {checked.coverage:.2%} in {solved.seconds:.1f} s, "
        f"{len(checked.violations)} rule(s) broken"
    )

    missed = []
    if checked.coverage < TARGET_COVERAGE:
        missed.append(f"large_coverage >= {TARGET_COVERAGE}")
    if solved.seconds > LARGE_SECONDS or not checked.feasible:
        missed.append(f"large roster feasible within {LARGE_SECONDS:.0f} s")
    return missed


def _solve_file(path: Path, limit: float, log: Log) -> dict[str, Any]:
    try:
        instance = instance_files.load(path)
    except InvalidInput as error:  # a malformed file is reported, the others still solved
        log(f"{path.stem}: {error.detail}")
        return {
            "name": path.stem,
            "objective": None,
            "best_known": BEST_KNOWN.get(path.stem),
            "gap": None,
            "feasible": False,
            "error": error.detail,
            "seconds": 0.0,
        }
    solution = cpsat.solve(instance, time_limit=limit, workers=2)
    best = BEST_KNOWN.get(path.stem)
    feasible = False
    objective = None
    if solution.schedule is not None:
        scored = scoring.score(instance, solution.schedule)
        feasible = scored.feasible
        objective = scored.objective
    gap = round((objective - best) / best, 4) if objective is not None and best else None
    log(
        f"{path.stem}: objective {objective} (best known {best}), gap {gap}, "
        f"feasible {feasible}, {solution.seconds:.1f} s"
    )
    return {
        "name": path.stem,
        "objective": objective,
        "solver_objective": solution.objective,
        "best_known": best,
        "gap": gap,
        "feasible": feasible,
        "status": solution.status,
        "seconds": solution.seconds,
    }


def _shared_folder() -> Path:
    for candidate in (SHARED, Path.cwd().parent / "shared" / "benchmarks" / "shift-scheduling"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no benchmark instances at {SHARED}")


def _natural(path: Path) -> tuple[str, int]:
    match = re.search(r"(\d+)$", path.stem)
    return (path.stem.rstrip("0123456789"), int(match.group(1)) if match else -1)
