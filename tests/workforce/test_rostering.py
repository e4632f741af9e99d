"""Rosters: the benchmark's format, the independent scorer, CP-SAT, and a realistic roster
across a DST change and public holidays checked rule by rule."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from tandem.core.errors import InvalidInput
from tandem.workforce.rostering import cpsat, instances, realistic, scoring

SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "shift-scheduling"

TINY = """# a tiny instance
SECTION_HORIZON
14

SECTION_SHIFTS
# ID, minutes, cannot follow
E,480,
L,480,E

SECTION_STAFF
A,E=14|L=2,4800,960,5,2,2,1

SECTION_DAYS_OFF
A,13

SECTION_SHIFT_ON_REQUESTS
A,0,E,3

SECTION_SHIFT_OFF_REQUESTS
A,1,E,2

SECTION_COVER
0,E,1,100,1
1,E,2,100,1
2,L,1,100,1
"""


def tiny() -> instances.Instance:
    return instances.parse(TINY, name="tiny")


def row(text: str) -> instances.Schedule:
    """One person's fortnight, a character a day: E, L or . for off."""
    return (tuple(None if c == "." else c for c in text),)


def test_parse_tiny():
    instance = tiny()
    assert instance.days == 14
    assert [s.id for s in instance.shifts] == ["E", "L"]
    assert instance.shift("L").cannot_follow == {"E"}
    person = instance.staff[0]
    assert person.max_shifts == {"E": 14, "L": 2}
    assert (person.max_minutes, person.min_minutes) == (4800, 960)
    assert person.days_off == {13}
    assert instance.on_requests[0].weight == 3
    assert instance.cover[1].requirement == 2


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ("A,E=14|L=2,4800,960,5,2,2", "SECTION_STAFF, line 11"),
        ("A,E=14|L=2,4800,lots,5,2,2,1", "SECTION_STAFF, line 11"),
        ("A,E=14|X=2,4800,960,5,2,2,1", "SECTION_STAFF, line 11"),
    ],
)
def test_a_malformed_line_names_its_section_and_line(broken, where):
    text = TINY.replace("A,E=14|L=2,4800,960,5,2,2,1", broken)
    with pytest.raises(InvalidInput) as raised:
        instances.parse(text)
    assert raised.value.extra["errors"][0]["field"] == where
    assert where in str(raised.value)


def test_a_bad_cover_day_names_the_cover_section():
    with pytest.raises(InvalidInput, match=r"SECTION_COVER, line 25: day 20 is outside"):
        instances.parse(TINY.replace("2,L,1,100,1", "20,L,1,100,1"))


def test_the_objective_of_a_known_schedule():
    # E E E L L . . E E . . . . .: days 0-4 worked, 7-8 worked; 7 shifts, 3360 minutes
    result = scoring.score(tiny(), row("EEELL..EE....."))
    assert result.feasible, result.violations
    # on request granted (0), off request broken (2); cover: day 1 one short (100),
    # day 2 L wanted, E worked: L one short (100)
    assert result.requests == 2
    assert result.cover == 200
    assert result.objective == 202


@pytest.mark.parametrize(
    ("schedule", "rule"),
    [
        ("LE...EE.......", "succession"),  # E may not follow L
        ("LLL...EE......", "max_shifts"),  # three L, at most two
        ("E.............", "total_minutes"),  # 480 < 960
        ("EEEEEE........", "max_consecutive_shifts"),  # six in a row, at most five
        ("EE...E...EE...", "min_consecutive_shifts"),  # a lone day inside the horizon
        ("EE.EE...EE....", "min_consecutive_days_off"),  # one day off inside the horizon
        (".....EE....EE.", "max_weekends"),  # weekends 1 and 2 worked, at most one
        ("..EE.....EEEEE", "day_off"),  # day 13 is a fixed day off
    ],
)
def test_each_hard_rule_broken_once_is_found(schedule, rule):
    result = scoring.score(tiny(), row(schedule))
    assert [v.rule for v in result.violations] == [rule], result.violations


def test_two_shifts_a_day_is_found():
    given = [("A", d, "E") for d in range(3)] + [("A", 2, "L")]
    rules = [v.rule for v in scoring.score_assignments(tiny(), given).violations]
    assert "one_shift_a_day" in rules


def test_short_runs_touching_the_horizons_edges_are_allowed():
    # one day worked at the start, one day off at the end: both touch an edge
    result = scoring.score(tiny(), row("E..EEE..EEEE.."))
    assert not [v for v in result.violations if v.rule.startswith("min_consecutive")]


@pytest.mark.skipif(not SHARED.is_dir(), reason="benchmark instances not present")
def test_cpsat_on_instance1_is_feasible_and_its_objective_re_scores_the_same():
    instance = instances.load(SHARED / "Instance1.txt")
    solution = cpsat.solve(instance, time_limit=10, workers=2)
    assert solution.schedule is not None
    scored = scoring.score(instance, solution.schedule)
    assert scored.feasible, scored.violations
    assert scored.objective == solution.objective
    assert solution.objective <= 607 * 1.05  # best known 607


def test_a_small_realistic_roster_keeps_every_labour_rule_across_dst_and_holidays():
    problem = realistic.generate(agents=36, seed=7)
    krakow = next(c for c in problem.centers if c.id == "KRK")
    # the fortnight holds the change to summer time in Krakow and Easter holidays
    assert date(2027, 3, 28) in problem.holidays_of(krakow)
    result = realistic.solve(problem, time_limit=8)
    checked = realistic.check(problem, result.shifts)
    assert checked.feasible, checked.violations[:5]
    assert checked.objective == result.objective
    assert checked.coverage > 0.5
    assert result.shifts


def test_the_checker_measures_a_night_across_dst_in_real_time():
    problem = realistic.generate(agents=12, seed=3)
    agent = next(a for a in problem.agents if a.center == "KRK")
    rules = problem.rules
    night = realistic.Agent(
        agent.id, "KRK", 480, (time(22, 0), time(6, 30)), holiday_volunteer=True
    )
    problem = realistic.RosterProblem(
        problem.first_day,
        problem.days,
        problem.start_utc,
        problem.requirement,
        problem.centers,
        (night,),
        rules,
    )
    # Saturday 27 March 22:00 to Sunday 06:00 local: 7 real hours (02:00 becomes 03:00);
    # then Sunday 06:30 would leave 30 minutes' rest
    saturday = date(2027, 3, 27)
    shifts = [
        realistic.RosteredShift(night.id, saturday, time(22, 0), 480),
        realistic.RosteredShift(night.id, saturday + timedelta(days=1), time(6, 30), 480),
    ]
    checked = realistic.check(problem, shifts)
    assert any("rest only" in v for v in checked.violations)
    times = realistic.shift_interval(shifts[0], realistic.ZoneInfo("Europe/Warsaw"))
    assert times is not None
    assert times[1] - times[0] == timedelta(hours=7)
    # a shift starting in the skipped hour does not exist
    skipped = realistic.RosteredShift(night.id, date(2027, 3, 28), time(2, 30), 480)
    assert realistic.shift_interval(skipped, realistic.ZoneInfo("Europe/Warsaw")) is None
