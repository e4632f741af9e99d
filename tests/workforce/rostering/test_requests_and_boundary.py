"""The roster solver's soft requests (a day off, a start asked) weighed below coverage, and
the days worked in a row before the roster counted with its first days; each answer
re-verified by the independent check. Pure: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tandem.workforce.rostering import realistic

MANILA = ZoneInfo("Asia/Manila")
MONDAY = date(2027, 9, 6)
CHEAP = realistic.Center("MNL", "Asia/Manila", "PH", 650)
DEARER = realistic.Center("MN2", "Asia/Manila", "PH", 700)  # same zone, a little dearer
NINE = (time(9, 0),)


def _requirement(
    days: dict[int, tuple[int, int]], total_days: int = 7
) -> tuple[datetime, tuple[int, ...]]:
    """One agent needed from hour a to hour b (Manila) on each day given."""
    start = datetime.combine(MONDAY, time(0), MANILA).astimezone(UTC)
    need = [0] * (total_days * 96)
    for day, (a, b) in days.items():
        for q in range(day * 96 + a * 4, day * 96 + b * 4):
            need[q] = 1
    return start, tuple(need)


def _problem(
    agents: tuple[realistic.Agent, ...],
    days: dict[int, tuple[int, int]],
    rules: realistic.LabourRules | None = None,
) -> realistic.RosterProblem:
    start, need = _requirement(days)
    return realistic.RosterProblem(
        first_day=MONDAY,
        days=7,
        start_utc=start,
        requirement=need,
        centers=(CHEAP, DEARER),
        agents=agents,
        rules=rules or realistic.LabourRules(),
    )


def _days(result: realistic.RosterResult, agent: str) -> dict[int, time]:
    return {(s.day - MONDAY).days: s.start for s in result.shifts if s.agent == agent}


WEEKDAYS = {d: (9, 17) for d in range(5)}


def test_a_day_off_asked_is_granted_when_another_agent_can_cover_it() -> None:
    """Ana is the cheaper: without a request she works every weekday. Asking Wednesday off,
    Ben covers it: the weight of her request outweighs his few cents more."""
    ben = realistic.Agent("ben", "MN2", 480, NINE, holiday_volunteer=True)
    ana = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True)
    control = realistic.solve(_problem((ana, ben), WEEKDAYS), time_limit=5)
    assert _days(control, "ana").keys() == {0, 1, 2, 3, 4}

    wednesday = realistic.Request("r1", MONDAY + timedelta(days=2), "day_off")
    asking = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True, requests=(wednesday,))
    problem = _problem((asking, ben), WEEKDAYS)
    result = realistic.solve(problem, time_limit=5)
    assert _days(result, "ana").keys() == {0, 1, 3, 4}
    assert _days(result, "ben").keys() == {2}
    checked = realistic.check(problem, result.shifts)
    assert checked.feasible, checked.violations
    assert checked.coverage == 1.0
    assert (checked.requests, checked.granted) == (1, frozenset({"r1"}))
    assert checked.objective == result.objective


def test_coverage_comes_before_a_request() -> None:
    """Nobody else can work Tuesday: Ana works it, and the check says her request was not
    granted (and counts its weight in the objective)."""
    tuesday = realistic.Request("r2", MONDAY + timedelta(days=1), "day_off")
    ana = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True, requests=(tuesday,))
    problem = _problem((ana,), WEEKDAYS)
    result = realistic.solve(problem, time_limit=5)
    assert 1 in _days(result, "ana")
    checked = realistic.check(problem, result.shifts)
    assert checked.feasible and checked.coverage == 1.0
    assert (checked.requests, checked.granted) == (1, frozenset())
    assert checked.objective == checked.cost_cents + problem.day_off_weight_cents


def test_a_start_asked_is_allowed_that_day_and_granted() -> None:
    """Ana usually starts at 09:00; she asks for 10:00 on Thursday, when 10:00 to 17:00 is
    needed (both starts cover it). That day only, 10:00 is hers; elsewhere it breaks a rule."""
    days = {**WEEKDAYS, 3: (10, 17)}
    ana = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True)
    control = realistic.solve(_problem((ana,), days), time_limit=5)
    assert _days(control, "ana")[3] == time(9, 0)

    thursday = realistic.Request("r3", MONDAY + timedelta(days=3), "shift_start", time(10, 0))
    asking = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True, requests=(thursday,))
    problem = _problem((asking,), days)
    result = realistic.solve(problem, time_limit=5)
    assert _days(result, "ana")[3] == time(10, 0)
    checked = realistic.check(problem, result.shifts)
    assert checked.feasible, checked.violations
    assert checked.granted == frozenset({"r3"})
    friday_at_ten = realistic.RosteredShift("ana", MONDAY + timedelta(days=4), time(10, 0), 480)
    other = [s for s in result.shifts if s.day != friday_at_ten.day] + [friday_at_ten]
    assert any(
        "not one of the agent's shifts" in v for v in realistic.check(problem, other).violations
    )


EVERY_DAY = {d: (9, 17) for d in range(7)}
LONG_WEEKS = realistic.LabourRules(
    max_consecutive_days=6, max_shifts_per_week=7, max_minutes_per_week=70 * 60, max_weekends=2
)


def test_days_worked_before_the_roster_count_towards_days_in_a_row() -> None:
    """Ana worked the 4 days before Monday: with at most 6 in a row, one of Monday to
    Wednesday must be off, though the whole week needs her. Without those days she works
    six of seven, and Monday to Wednesday all."""
    fresh = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True)
    control = realistic.solve(_problem((fresh,), EVERY_DAY, LONG_WEEKS), time_limit=5)
    assert len(_days(control, "ana")) == 6
    tired = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True, worked_before=4)
    problem = _problem((tired,), EVERY_DAY, LONG_WEEKS)
    result = realistic.solve(problem, time_limit=5)
    worked = _days(result, "ana")
    assert not {0, 1, 2} <= worked.keys()
    assert len(worked) == 6  # the off day moved early, the rest still covered
    checked = realistic.check(problem, result.shifts)
    assert checked.feasible, checked.violations


def test_the_check_counts_the_days_worked_before_the_roster() -> None:
    three = [
        realistic.RosteredShift("ana", MONDAY + timedelta(days=d), time(9), 480) for d in range(3)
    ]
    for before, broken in ((4, True), (3, False), (0, False)):
        agent = realistic.Agent(
            "ana", "MNL", 480, NINE, holiday_volunteer=True, worked_before=before
        )
        problem = _problem((agent,), EVERY_DAY, LONG_WEEKS)
        found = [v for v in realistic.check(problem, three).violations if "in a row" in v]
        assert bool(found) is broken, (before, found)
    agent = realistic.Agent("ana", "MNL", 480, NINE, holiday_volunteer=True, worked_before=4)
    found = realistic.check(_problem((agent,), EVERY_DAY, LONG_WEEKS), three).violations
    assert found == ("ana 2027-09-08: 7 days in a row",)
