"""Dodge's continuous sampling plan CSP-1: the plan's arithmetic and its switching rules.

Pure: no database, no clock. An agent's work on a process is reviewed item by item
(screening) until `i` consecutive items pass; then a random fraction `f` is reviewed
(sampling) until a reviewed item has a defect, which returns to screening. Defects found in
review are corrected, so what leaves is the unreviewed share of the defects.

For an incoming defect rate p (q = 1 - p), the average outgoing quality is
    AOQ(p) = p (1 - f) q^i / (f + (1 - f) q^i)
and its maximum over p, the AOQL, bounds the outgoing defect rate whatever p is. The plan is
chosen to keep AOQL at or below the target while reviewing as little as possible at the
agent's measured defect rate.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, replace

from tandem.quality.accuracy import defect_rate

# Sampling fractions a plan may use (1/2 ... 1/100), and the longest clearance considered.
FRACTIONS = (1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 7, 1 / 10, 1 / 15, 1 / 20, 1 / 25, 1 / 50, 1 / 100)
MAX_CLEARANCE = 5000


def aoq(p: float, i: int, f: float) -> float:
    """Average outgoing quality of CSP-1 (i, f) at incoming defect rate p."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 0.0  # every item fails: always screening, nothing defective leaves
    qi = (1.0 - p) ** i
    return p * (1.0 - f) * qi / (f + (1.0 - f) * qi)


def aoql(i: int, f: float) -> float:
    """The maximum of AOQ over p: a coarse scan in log space, then a golden-section search
    around the best point (AOQ rises then falls in p)."""
    grid = [10 ** (-6 + 6 * k / 400) for k in range(401)]
    best = max(range(len(grid)), key=lambda k: aoq(grid[k], i, f))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if aoq(a, i, f) < aoq(b, i, f):
            lo = a
        else:
            hi = b
    return aoq((lo + hi) / 2, i, f)


def fraction_inspected(p: float, i: int, f: float) -> float:
    """Average fraction of items reviewed at defect rate p: u items per screening run
    (until i pass in a row), v items per sampling run (until a sampled one fails)."""
    if p <= 0.0:
        return f
    if p >= 1.0:
        return 1.0  # every item fails: screening never ends
    q = 1.0 - p
    qi = q**i
    if qi == 0.0:
        return 1.0  # i passes in a row are out of reach (underflow): screening never ends
    u = (1.0 - qi) / (p * qi)
    v = 1.0 / (f * p)
    return (u + f * v) / (u + v)


@dataclass(frozen=True)
class Terms:
    """A CSP-1 plan as it is applied: clear after `clearance` passes, then sample `fraction`."""

    clearance: int  # i
    fraction: float  # f


@dataclass(frozen=True)
class Plan(Terms):
    """Terms chosen for a target, with what they guarantee and cost."""

    aoql: float
    review_fraction: float  # at the error rate the plan was chosen for


def smallest_clearance(f: float, target_aoql: float) -> int | None:
    """The least i whose AOQL with f is at or below the target (AOQL falls as i grows)."""
    if aoql(MAX_CLEARANCE, f) > target_aoql:
        return None
    lo, hi = 1, MAX_CLEARANCE
    while lo < hi:
        mid = (lo + hi) // 2
        if aoql(mid, f) <= target_aoql:
            hi = mid
        else:
            lo = mid + 1
    return lo


@functools.lru_cache(maxsize=64)
def _plans_meeting(target_aoql: float) -> tuple[tuple[int, float, float], ...]:
    """(i, f, AOQL) for every fraction: the least clearance that meets the target."""
    if not 0.0 < target_aoql < 1.0:
        raise ValueError("the AOQL target must be between 0 and 1")
    found = []
    for f in FRACTIONS:
        i = smallest_clearance(f, target_aoql)
        if i is not None:
            found.append((i, f, aoql(i, f)))
    if not found:
        raise ValueError(f"no CSP-1 plan reaches an AOQL of {target_aoql}")
    return tuple(found)


def choose_plan(target_aoql: float, error_rate: float) -> Plan:
    """The (i, f) meeting the AOQL target that reviews the least at `error_rate`."""
    rate = max(error_rate, 1e-9)
    candidates = [
        Plan(i, f, limit, fraction_inspected(rate, i, f))
        for i, f, limit in _plans_meeting(target_aoql)
    ]
    return min(candidates, key=lambda plan: (plan.review_fraction, plan.clearance))


@dataclass(frozen=True)
class CspState:
    """Where one agent's work on one process stands. New agents start screening."""

    screening: bool = True
    passes_in_a_row: int = 0


def needs_review(state: CspState, plan: Terms, rng: random.Random) -> bool:
    return state.screening or rng.random() < plan.fraction


def after_review(state: CspState, plan: Terms, defect: bool) -> CspState:
    """The switching rules: a defect returns to screening; i passes in a row end it."""
    if defect:
        return CspState(screening=True, passes_in_a_row=0)
    if not state.screening:
        return state
    passes = state.passes_in_a_row + 1
    if passes >= plan.clearance:
        return CspState(screening=False, passes_in_a_row=0)
    return replace(state, passes_in_a_row=passes)


# Plans are chosen for an AOQL this much below the one promised: the AOQL bounds the long-run
# expected outgoing error rate, and a finite stretch of work (a week of one agent's, a
# benchmark's run) scatters around its expectation; with the margin, the rate measured over
# tens of thousands of items stays under the promise, not only its expectation.
DESIGN_MARGIN = 0.85


def plan_for(target_aoql: float, error_rate: float) -> Plan:
    """The plan the production policy uses: `choose_plan` for the target with the margin."""
    return choose_plan(target_aoql * DESIGN_MARGIN, error_rate)


@dataclass(frozen=True)
class Standing:
    """One agent's record on one process: the phase, the plan in force, what was reviewed."""

    state: CspState
    plan: Terms
    reviewed: int = 0
    defects: int = 0

    @property
    def defect_rate(self) -> float:
        return defect_rate(self.defects, self.reviewed)


def first_standing(target_aoql: float) -> Standing:
    """A new agent: screening, under the plan for an agent who errs at the promised rate
    (the plan for a prior of one half would clear them after a few items and then review
    half of everything until a first sampled defect)."""
    return Standing(CspState(), plan_for(target_aoql, target_aoql))


def after_outcome(standing: Standing, defect: bool, target_aoql: float) -> Standing:
    """One more reviewed item: the switching rules under the plan in force; on a defect, a
    screening run starts under the plan for the agent's measured rate.

    The plan changes only there, at the start of a CSP-1 cycle (a screening run, then
    sampling until a sampled defect): each cycle is then run under one plan whose AOQL
    meets the target, chosen from the past alone, so the outgoing error rate stays within
    the AOQL whatever the agent's error rate. Lowering the fraction in the middle of a
    sampling run instead (as this policy once did, every 100 reviews) samples at a rate the
    clearance passed was not chosen for: agents erring at 2 % then delivered 1.15 % wrong
    against a 1 % AOQL."""
    state = after_review(standing.state, standing.plan, defect)
    updated = Standing(state, standing.plan, standing.reviewed + 1, standing.defects + int(defect))
    if defect:
        plan = plan_for(target_aoql, updated.defect_rate)
        updated = replace(updated, plan=Terms(plan.clearance, plan.fraction))
    return updated
