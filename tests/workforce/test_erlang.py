"""Staffing (`tandem.workforce.erlang`): Erlang B and C against published tables and exact
arithmetic, Erlang A against closed-form special cases, a brute-force birth-death chain and
its Erlang C limit, both against a SimPy simulation; the least-agents search, shrinkage, the
occupancy cap, back-office requirements, and `tandem wfm staffing`."""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import dataclass
from fractions import Fraction

import pytest
import simpy
from typer.testing import CliRunner

from tandem.cli import app
from tandem.core.errors import InvalidInput
from tandem.workforce.erlang import (
    BackOfficeItem,
    Traffic,
    back_office_requirement,
    erlang_b,
    erlang_c,
    least_agents,
    performance,
    scheduled_people,
)

# The issue's check (the inputs of Call Centre Helper's "Erlang C formula made simple"):
# 100 calls in 30 minutes, 180 s handle time, 20 s target, 14 agents.
ISSUE = Traffic(arrivals=100, interval_minutes=30, aht_seconds=180)


def test_the_issues_check() -> None:
    result = performance(ISSUE, 14, 20)
    assert ISSUE.offered_load == pytest.approx(10.0)
    assert round(result.service_level, 5) == 0.88835
    assert round(result.asa_seconds, 2) == 7.84
    assert result.occupancy == pytest.approx(10 / 14)
    assert result.abandon_rate == 0.0
    assert result.model == "erlang_c"


@pytest.mark.parametrize(
    ("lines", "traffic", "grade_of_service"),
    [
        # Published Erlang B tables (the traffic in Erlangs that N lines carry at a given
        # blocking probability, printed to two decimals in the usual telephone-traffic tables).
        (10, 3.09, 0.001),
        (10, 4.46, 0.01),
        (10, 5.08, 0.02),
        (20, 12.03, 0.01),
        (20, 13.18, 0.02),
        (50, 37.90, 0.01),
        (100, 84.06, 0.01),
    ],
)
def test_erlang_b_matches_published_tables(
    lines: int, traffic: float, grade_of_service: float
) -> None:
    # The table rounds the traffic to 0.01 Erlang: that moves B by well under 1 % of itself.
    assert erlang_b(lines, traffic) == pytest.approx(grade_of_service, rel=0.01)


def test_erlang_b_and_c_small_cases_by_hand() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    for rho in (0.1, 0.5, 0.9):
        assert erlang_c(1, rho) == pytest.approx(rho)  # M/M/1: P(wait) = r
        # M/M/2, the textbook case: P(wait) = 2r² / (1 + r), r = A/2
        assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))
    # M/M/1: P(W <= t) = 1 - r·exp(-(1 - r)·t/AHT); ASA = r·AHT/(1 - r)
    single = performance(Traffic(arrivals=20, interval_minutes=60, aht_seconds=90), 1, 30)
    rho = 0.5
    assert single.service_level == pytest.approx(1 - rho * math.exp(-(1 - rho) * 30 / 90))
    assert single.asa_seconds == pytest.approx(rho * 90 / (1 - rho))


def _exact_erlang_c(agents: int, load: Fraction) -> Fraction:
    """The textbook formula, in exact rational arithmetic: no rounding at all."""
    top = load**agents / math.factorial(agents) * Fraction(agents) / (agents - load)
    below = sum(load**k / math.factorial(k) for k in range(agents))
    return top / (below + top)


@pytest.mark.parametrize(("agents", "load"), [(3, 2), (60, 50), (300, 280), (600, 590)])
def test_erlang_c_equals_exact_arithmetic_for_hundreds_of_agents(agents: int, load: int) -> None:
    exact = float(_exact_erlang_c(agents, Fraction(load)))
    assert erlang_c(agents, float(load)) == pytest.approx(exact, rel=1e-10)


def test_erlang_c_keeps_its_footing_with_huge_loads() -> None:
    # 100,000 calls an hour of 5 minutes: 8,333 Erlangs; a factorial would overflow at 171.
    traffic = Traffic(arrivals=100_000, interval_minutes=60, aht_seconds=300)
    result = least_agents(traffic, 20, 0.8)
    assert result.performance.agents == 8354
    assert 0.8 <= result.performance.service_level < 0.83
    assert performance(traffic, 8353, 20).service_level < 0.8
    # and with few calls on many agents, Erlang B underflows to 0 gracefully
    assert performance(Traffic(1, 60, 60), 500, 20).service_level == 1.0


def test_an_unstable_erlang_c_queue_answers_nobody_in_time() -> None:
    result = performance(ISSUE, 10, 20)  # 10 agents for 10 Erlangs: the queue grows for ever
    assert result.service_level == 0.0
    assert result.asa_seconds == math.inf
    assert result.occupancy == 1.0


# Erlang A


def _brute_force_erlang_a(traffic: Traffic, agents: int) -> tuple[float, float, float]:
    """P(wait), P(abandon), E[queue] from the M/M/n+M chain's balance equations, plainly:
    a different computation from the module's (linear scale, fixed long truncation)."""
    assert traffic.patience_seconds is not None
    rate, mu, theta = traffic.arrival_rate, 1 / traffic.aht_seconds, 1 / traffic.patience_seconds
    weights = [1.0]
    for k in range(1, agents + 2000):
        weights.append(weights[-1] * rate / (min(k, agents) * mu + max(k - agents, 0) * theta))
    total = sum(weights)
    probabilities = [w / total for w in weights]
    waits = sum(probabilities[agents:])
    queue = sum((k - agents) * p for k, p in enumerate(probabilities) if k > agents)
    return waits, theta * queue / rate, queue


@pytest.mark.parametrize(
    ("arrivals", "aht", "patience", "agents"),
    [(100, 180, 120, 12), (100, 180, 60, 8), (300, 240, 600, 38), (40, 300, 30, 3)],
)
def test_erlang_a_matches_the_birth_death_chain(
    arrivals: float, aht: float, patience: float, agents: int
) -> None:
    traffic = Traffic(arrivals, 30, aht, patience)
    result = performance(traffic, agents, 20)
    waits, abandons, queue = _brute_force_erlang_a(traffic, agents)
    assert result.probability_of_waiting == pytest.approx(waits, rel=1e-9)
    assert result.abandon_rate == pytest.approx(abandons, rel=1e-9)
    assert result.mean_wait_seconds == pytest.approx(queue / traffic.arrival_rate, rel=1e-9)
    # Whoever is not answered gave up: the agents' busy time is what was answered.
    assert result.occupancy == pytest.approx(traffic.offered_load * (1 - abandons) / agents)


def test_erlang_a_with_patience_equal_to_handle_time_is_a_poisson_count() -> None:
    # With θ = μ every caller in the system leaves at rate μ, served or not: the number in
    # the system is Poisson(A), as for infinitely many agents (a known property of Erlang A).
    # So P(wait) = P(K >= n) and P(abandon) = E[(K - n)+] / A, by hand.
    load, agents = 10.0, 12
    traffic = Traffic(arrivals=100, interval_minutes=30, aht_seconds=180, patience_seconds=180)
    poisson = [math.exp(-load)]
    for k in range(1, 200):
        poisson.append(poisson[-1] * load / k)
    result = performance(traffic, agents, 20)
    assert result.probability_of_waiting == pytest.approx(sum(poisson[agents:]), rel=1e-10)
    excess = sum((k - agents) * p for k, p in enumerate(poisson) if k > agents)
    assert result.abandon_rate == pytest.approx(excess / load, rel=1e-10)


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    erlang_c_result = performance(ISSUE, 14, 20)
    gaps = []
    for patience in (1e4, 1e6, 1e8):
        patient = Traffic(100, 30, 180, patience_seconds=patience)
        result = performance(patient, 14, 20)
        gaps.append(abs(result.service_level - erlang_c_result.service_level))
        assert result.asa_seconds == pytest.approx(erlang_c_result.asa_seconds, rel=1e3 / patience)
    # the gap shrinks in proportion to 1/patience
    assert gaps[0] / gaps[1] == pytest.approx(100, rel=0.05)
    assert gaps[1] / gaps[2] == pytest.approx(100, rel=0.05)
    assert gaps[2] < 1e-6
    assert round(performance(Traffic(100, 30, 180, 1e9), 14, 20).service_level, 5) == 0.88835


def test_erlang_a_service_level_runs_from_no_wait_to_not_abandoning() -> None:
    traffic = Traffic(100, 30, 180, patience_seconds=90)
    at_once = performance(traffic, 11, 0)
    assert at_once.service_level == pytest.approx(1 - at_once.probability_of_waiting)
    eventually = performance(traffic, 11, 36_000)
    assert eventually.service_level == pytest.approx(1 - eventually.abandon_rate, abs=1e-12)
    levels = [performance(traffic, 11, t).service_level for t in (0, 10, 20, 60, 120)]
    assert levels == sorted(levels)
    # Each waiting caller gives up at rate θ: abandonment = θ · mean wait (of everyone).
    assert eventually.abandon_rate == pytest.approx(eventually.mean_wait_seconds / 90)


# Against a SimPy simulation


@dataclass
class Simulated:
    service_level: float
    abandon_rate: float
    asa_seconds: float
    standard_errors: tuple[float, float, float]


def _simulate(traffic: Traffic, agents: int, target: float, callers: int, seed: int) -> Simulated:
    """An M/M/n(+M) call center in SimPy, FCFS; measures by batch means (20 batches of
    consecutive callers after a warm-up), whose spread gives the standard errors."""
    rng = random.Random(seed)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=agents)
    patience = traffic.patience_seconds
    warmup, batches = 2_000, 20
    records: dict[int, tuple[bool, float]] = {}

    def caller(index: int) -> simpy.events.ProcessGenerator:
        arrived = env.now
        with desk.request() as request:
            if patience is None:
                yield request
                answered = True
            else:
                gives_up = env.timeout(rng.expovariate(1 / patience))
                answered = request in (yield request | gives_up)
            records[index] = (answered, env.now - arrived)
            if answered:
                yield env.timeout(rng.expovariate(1 / traffic.aht_seconds))

    def arrivals() -> simpy.events.ProcessGenerator:
        for index in range(warmup + callers):
            yield env.timeout(rng.expovariate(traffic.arrival_rate))
            env.process(caller(index))

    env.process(arrivals())
    env.run()
    size = callers // batches
    levels, abandons, speeds = [], [], []
    for batch in range(batches):
        part = [records[warmup + batch * size + i] for i in range(size)]
        answered = [wait for ok, wait in part if ok]
        levels.append(sum(1 for ok, wait in part if ok and wait <= target) / size)
        abandons.append(1 - len(answered) / size)
        speeds.append(statistics.fmean(answered))

    def error(values: list[float]) -> float:
        return statistics.stdev(values) / math.sqrt(batches)

    return Simulated(
        statistics.fmean(levels),
        statistics.fmean(abandons),
        statistics.fmean(speeds),
        (error(levels), error(abandons), error(speeds)),
    )


@pytest.mark.parametrize(
    ("patience", "agents"),
    [(None, 14), (120.0, 12), (60.0, 9)],
    ids=["erlang-c-issue-case", "erlang-a-moderate", "erlang-a-overloaded"],
)
def test_formulas_agree_with_a_simpy_simulation(patience: float | None, agents: int) -> None:
    # 120,000 simulated callers (seed fixed) take about 2 s. Batch means of 6,000 callers
    # (each batch ~30 hours of traffic, hundreds of busy periods, so nearly independent) give
    # standard errors of about 0.003-0.005 for the service level; agreement is asked within 4
    # of them, and the errors must be that small, so a wrong formula cannot hide in the noise.
    traffic = Traffic(100, 30, 180, patience)
    exact = performance(traffic, agents, 20)
    simulated = _simulate(traffic, agents, 20, callers=120_000, seed=20261207)
    sl_error, abandon_error, asa_error = simulated.standard_errors
    assert sl_error < 0.008
    assert abs(simulated.service_level - exact.service_level) < 4 * sl_error
    assert abs(simulated.asa_seconds - exact.asa_seconds) < 4 * asa_error
    if patience is None:
        assert simulated.abandon_rate == 0.0
    else:
        assert abandon_error < 0.006
        assert abs(simulated.abandon_rate - exact.abandon_rate) < 4 * abandon_error


# Finding the least agents; shrinkage; the occupancy cap


def test_least_agents_is_the_first_count_meeting_the_target() -> None:
    found = least_agents(ISSUE, 20, 0.8)
    assert found.performance.agents == 14
    assert found.scheduled == 14
    assert performance(ISSUE, 13, 20).service_level < 0.8
    assert least_agents(ISSUE, 20, 0.88835).performance.agents == 14
    assert least_agents(ISSUE, 20, 0.8884).performance.agents == 15
    assert least_agents(Traffic(0, 30, 180), 20, 0.8).performance.agents == 0


def test_shrinkage_and_the_occupancy_cap() -> None:
    # The same example's 30 % shrinkage: 14 agents are 20 people (14 / 0.7 is
    # 20.000000000000004 in floating point: still 20).
    assert least_agents(ISSUE, 20, 0.8, shrinkage=0.3).scheduled == 20
    assert scheduled_people(14, 0.3) == 20
    assert scheduled_people(14, 0.0) == 14
    assert scheduled_people(15, 0.25) == 20
    assert scheduled_people(16, 0.25) == 22
    # 14 agents are 71.4 % busy: a 70 % cap asks for 15 (66.7 %); 85 % changes nothing.
    assert least_agents(ISSUE, 20, 0.8, max_occupancy=0.7).performance.agents == 15
    assert least_agents(ISSUE, 20, 0.8, max_occupancy=0.85).performance.agents == 14


def test_erlang_a_may_staff_below_the_offered_load() -> None:
    # Callers who give up after a minute lighten the queue: fewer agents than Erlangs can
    # answer 80 % in 20 s, which Erlang C (unstable below the load) never allows.
    traffic = Traffic(100_000, 60, 300, patience_seconds=60)
    found = least_agents(traffic, 20, 0.8)
    assert found.performance.agents < traffic.offered_load
    assert found.performance.service_level >= 0.8
    assert performance(traffic, found.performance.agents - 1, 20).service_level < 0.8


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Traffic(-1, 30, 180), "arrivals"),
        (lambda: Traffic(100, 0, 180), "interval_minutes"),
        (lambda: Traffic(100, 30, 0), "aht_seconds"),
        (lambda: Traffic(100, 30, 180, patience_seconds=-5), "patience_seconds"),
        (lambda: Traffic(100, 30, float("nan")), "aht_seconds"),
        (lambda: performance(ISSUE, -1, 20), "agents"),
        (lambda: performance(ISSUE, 14, -20), "target_seconds"),
        (lambda: least_agents(ISSUE, 20, 1.0), "service_level"),
        (lambda: least_agents(ISSUE, 20, 0.0), "service_level"),
        (lambda: least_agents(ISSUE, 20, 0.8, max_occupancy=0), "max_occupancy"),
        (lambda: least_agents(ISSUE, 20, 0.8, shrinkage=1.0), "shrinkage"),
        (lambda: scheduled_people(10, -0.1), "shrinkage"),
    ],
)
def test_nonsense_is_refused_naming_the_parameter(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        call()  # type: ignore[operator]
    assert refused.value.extra["errors"][0]["field"] == field
    assert field in refused.value.detail


# Back-office work


def test_back_office_needs_the_steady_rate_that_meets_every_due() -> None:
    items = [
        BackOfficeItem(arrival_interval=0, due_minutes=15, handle_seconds=900),
        BackOfficeItem(arrival_interval=0, due_minutes=60, handle_seconds=1800),
    ]
    needs = back_office_requirement(items, 30)
    # The first item alone needs one person for its 15 minutes (900 s of work in 900 s);
    # after the interval 900 s of the second remain, due in 30 minutes: half a person.
    assert [round(need.people, 9) for need in needs] == [1.0, 0.5]
    assert [need.agents for need in needs] == [1, 1]
    assert [need.backlog_seconds for need in needs] == [2700, 900]


def test_back_office_arrivals_raise_later_intervals_only() -> None:
    items = [
        BackOfficeItem(0, due_minutes=120, handle_seconds=3600),  # 1 h of work in 2 h
        BackOfficeItem(2, due_minutes=120, handle_seconds=5400),  # 1.5 h arriving at 1 h
    ]
    needs = back_office_requirement(items, 30, max_occupancy=0.8, shrinkage=0.2)
    # Half a person works 1800 s of the first in the first hour; at 1 h, 1800 + 5400 s are
    # due in an hour: two people.
    assert [round(need.people, 9) for need in needs] == [0.5, 0.5, 2.0, 2.0]
    assert [need.agents for need in needs] == [1, 1, 3, 3]  # 2 / 0.8 = 2.5 -> 3
    assert [need.scheduled for need in needs] == [2, 2, 4, 4]  # 1 / 0.8 -> 2; 3 / 0.8 -> 4


def test_back_office_plan_meets_every_due_when_worked_earliest_due_first() -> None:
    rng = random.Random(18)
    length = 30 * 60.0
    items = []
    for _ in range(300):
        arrival = rng.randrange(16)
        due = arrival * 30 + rng.uniform(5, 240)
        items.append(BackOfficeItem(arrival, due, rng.uniform(60, 900)))
    needs = back_office_requirement(items, 30)
    # Replay the plan: each interval works its people's seconds, earliest due first, over
    # the items arrived; nothing may still be owed past its due.
    pending: list[list[float]] = []
    for need in needs:
        start = need.interval * length
        pending += [
            [i.due_minutes * 60, i.handle_seconds]
            for i in items
            if i.arrival_interval == need.interval
        ]
        pending.sort()
        clock, capacity = start, need.people
        for entry in pending:
            if entry[1] <= 0:
                continue
            finish = clock + entry[1] / capacity if capacity else math.inf
            if finish <= start + length + 1e-6:
                assert finish <= entry[0] + 1e-6, "an item finished after its due"
                clock, entry[1] = finish, 0.0
            else:
                entry[1] -= (start + length - clock) * capacity
                clock = start + length
                break
        assert all(entry[1] <= 1e-6 for entry in pending if entry[0] <= start + length)
        pending = [entry for entry in pending if entry[1] > 1e-6]
    assert not pending


def test_back_office_refuses_an_item_due_before_it_arrives() -> None:
    with pytest.raises(InvalidInput) as refused:
        back_office_requirement([BackOfficeItem(2, due_minutes=30, handle_seconds=60)], 30)
    assert refused.value.extra["errors"][0]["field"] == "items[0].due_minutes"
    with pytest.raises(InvalidInput) as refused:
        back_office_requirement([BackOfficeItem(0, 30, 60)], 0)
    assert refused.value.extra["errors"][0]["field"] == "interval_minutes"


# The command line


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["wfm", "staffing", *args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_cli_evaluates_the_issues_case_as_json() -> None:
    code, out, _ = _run(
        "--arrivals", "100", "--interval-minutes", "30", "--aht-seconds", "180",
        "--target-seconds", "20", "--agents", "14", "--json",
    )  # fmt: skip
    assert code == 0
    figures = json.loads(out.strip().splitlines()[-1])
    assert {"agents", "service_level", "asa_seconds", "abandon_rate", "occupancy"} <= set(figures)
    assert figures["agents"] == 14
    assert round(figures["service_level"], 5) == 0.88835
    assert round(figures["asa_seconds"], 2) == 7.84
    assert figures["abandon_rate"] == 0.0
    assert figures["occupancy"] == pytest.approx(10 / 14)


def test_cli_finds_the_least_agents_with_erlang_a_and_shrinkage() -> None:
    code, out, _ = _run(
        "--arrivals", "100", "--aht-seconds", "180", "--service-level", "0.8",
        "--patience-seconds", "120", "--shrinkage", "0.3", "--json",
    )  # fmt: skip
    assert code == 0
    figures = json.loads(out.strip().splitlines()[-1])
    exact = least_agents(Traffic(100, 30, 180, 120), 20, 0.8, shrinkage=0.3)
    assert figures["model"] == "erlang_a"
    assert figures["agents"] == exact.performance.agents == 12
    assert figures["abandon_rate"] == pytest.approx(exact.performance.abandon_rate)
    assert figures["scheduled"] == exact.scheduled == 18
    # The table for people, without --json
    code, out, _ = _run("--arrivals", "100", "--aht-seconds", "180")
    assert code == 0
    assert "88.84%" in out and "7.84 s" in out


def test_cli_refuses_bad_input_in_one_line_naming_the_option() -> None:
    code, out, err = _run("--arrivals", "100", "--aht-seconds", "-180", "--json")
    assert code == 1
    assert out == ""
    assert err == "--aht-seconds: must be more than 0 (got -180.0)"
    code, _, err = _run("--arrivals", "100", "--aht-seconds", "180", "--service-level", "80")
    assert code == 1
    assert err.startswith("--service-level: must be a fraction in (0, 1)")
