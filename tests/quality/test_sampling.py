"""CSP-1: the AOQ formula, plan choice, switching rules, and a simulation against the AOQL."""

from __future__ import annotations

import random

import pytest

from tandem.quality.sampling import (
    REPLAN_EVERY,
    CspState,
    after_outcome,
    after_review,
    aoq,
    aoql,
    choose_plan,
    first_standing,
    fraction_inspected,
    needs_review,
)


def test_aoq_formula_at_known_points() -> None:
    assert aoq(0.0, 10, 0.1) == 0.0
    # p = 0.01, i = 10, f = 0.1: q^i = 0.99^10
    qi = 0.99**10
    assert aoq(0.01, 10, 0.1) == pytest.approx(0.01 * 0.9 * qi / (0.1 + 0.9 * qi))
    assert aoq(0.05, 1, 1.0) == 0.0  # reviewing everything lets nothing through


@pytest.mark.parametrize("target", [0.005, 0.01, 0.02, 0.05])
@pytest.mark.parametrize("error_rate", [0.005, 0.02, 0.08])
def test_chosen_plan_keeps_aoql_at_or_below_target(target: float, error_rate: float) -> None:
    plan = choose_plan(target, error_rate)
    assert plan.aoql <= target
    # The AOQL is a maximum: no incoming rate does worse.
    assert max(aoq(k / 10_000, plan.clearance, plan.fraction) for k in range(1, 5000)) <= target
    # And the clearance is the least that does it for that fraction.
    if plan.clearance > 1:
        assert aoql(plan.clearance - 1, plan.fraction) > target


def test_better_agents_are_reviewed_less() -> None:
    good, poor = choose_plan(0.01, 0.005), choose_plan(0.01, 0.08)
    assert good.review_fraction < poor.review_fraction
    assert fraction_inspected(0.08, poor.clearance, poor.fraction) == pytest.approx(
        poor.review_fraction
    )


def test_switching_rules() -> None:
    plan = choose_plan(0.01, 0.02)
    state = CspState()
    assert state.screening  # new agents start at full review
    for _ in range(plan.clearance - 1):
        state = after_review(state, plan, defect=False)
        assert state.screening
    state = after_review(state, plan, defect=False)
    assert not state.screening  # i passes in a row: sampling
    assert after_review(state, plan, defect=False) == state
    assert after_review(state, plan, defect=True) == CspState()  # a defect: screening again


@pytest.mark.parametrize("error_rate", [0.005, 0.02, 0.08])
def test_simulated_outgoing_quality_stays_within_the_aoql(error_rate: float) -> None:
    """An agent with a known error rate works 200,000 items under the chosen plan; every
    reviewed defect is corrected. The outgoing defect rate is the formula's AOQ at that rate
    (within sampling noise), which is at or below the AOQL (1 %)."""
    rng = random.Random(7)
    plan = choose_plan(0.01, error_rate)
    state, escaped, reviewed, items = CspState(), 0, 0, 200_000
    for _ in range(items):
        defect = rng.random() < error_rate
        if needs_review(state, plan, rng):
            reviewed += 1
            state = after_review(state, plan, defect)
        elif defect:
            escaped += 1
    expected = aoq(error_rate, plan.clearance, plan.fraction)
    assert expected <= 0.01
    noise = 5 * (expected / items) ** 0.5  # five standard deviations of a binomial count
    assert abs(escaped / items - expected) <= noise
    assert reviewed / items == pytest.approx(plan.review_fraction, abs=0.03)


def test_an_agents_plan_stays_through_a_screening_run_and_changes_on_a_defect() -> None:
    standing = first_standing(0.01)
    assert standing.state.screening and standing.plan.clearance == choose_plan(0.01, 0.5).clearance
    first_plan = standing.plan
    for _ in range(first_plan.clearance - 1):  # the measured rate falls, the plan holds
        standing = after_outcome(standing, defect=False, target_aoql=0.01)
        assert standing.state.screening and standing.plan == first_plan
    standing = after_outcome(standing, defect=False, target_aoql=0.01)
    assert not standing.state.screening  # cleared under the plan it started with
    while standing.reviewed % REPLAN_EVERY:  # sampling: re-chosen at the next hundred
        standing = after_outcome(standing, defect=False, target_aoql=0.01)
    assert standing.plan.fraction < first_plan.fraction  # a spotless record: sample less
    assert standing.plan.clearance == choose_plan(0.01, standing.defect_rate).clearance
    standing = after_outcome(standing, defect=True, target_aoql=0.01)
    assert standing.state == CspState()  # screening again, under a plan for the new rate
    assert standing.plan.clearance == choose_plan(0.01, standing.defect_rate).clearance
    assert standing.defects == 1
