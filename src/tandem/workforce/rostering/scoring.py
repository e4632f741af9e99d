"""Checks a schedule of the Curtois-Qu benchmark and computes its objective, without the
solver: the benchmark's own definitions, written again from the rules, so that the solver's
model is checked by something that does not share its code.

Hard rules (each broken one is a `Violation`):

- `one_shift_a_day`: at most one shift per person per day;
- `succession`: a shift may not be followed the next day by one of its `cannot_follow`;
- `max_shifts`: per person and shift type, at most `max_shifts[type]`;
- `total_minutes`: the person's minutes within `[min_minutes, max_minutes]`;
- `max_consecutive_shifts`: no run of worked days longer than the maximum;
- `min_consecutive_shifts`: no run of worked days shorter than the minimum, **except a run
  touching the horizon's first or last day** (the benchmark's model only forbids the pattern
  off, 1..min-1 worked days, off inside the horizon: the days before and after it are
  unknown);
- `min_consecutive_days_off`: likewise for runs of days off (worked, 1..min-1 off, worked);
- `max_weekends`: weekends worked (Saturday or Sunday worked; day 0 is a Monday, so weekend
  w is days 7w+5 and 7w+6) at most `max_weekends`;
- `day_off`: no shift on a fixed day off.

Objective (soft): the weight of each shift-on request not granted (that shift not worked that
day) and of each shift-off request not granted (that shift worked); per cover line,
`under_weight` per person short of the requirement and `over_weight` per person above it
(a day and shift with no cover line costs nothing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tandem.workforce.rostering.instances import Instance, Schedule

# One assignment: (staff ID, day, shift ID).
Assignment = tuple[str, int, str]


@dataclass(frozen=True)
class Violation:
    rule: str
    staff: str | None
    day: int | None
    message: str


@dataclass(frozen=True)
class Score:
    objective: int
    requests: int  # the part of the objective from requests not granted
    cover: int  # the part from under- and over-cover
    violations: tuple[Violation, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations


def assignments(instance: Instance, schedule: Schedule) -> list[Assignment]:
    """A schedule (per person, per day, a shift ID or None) as a list of assignments."""
    return [
        (person.id, day, shift)
        for person, row in zip(instance.staff, schedule, strict=True)
        for day, shift in enumerate(row)
        if shift is not None
    ]


def score(instance: Instance, schedule: Schedule) -> Score:
    return score_assignments(instance, assignments(instance, schedule))


def score_assignments(instance: Instance, given: Iterable[Assignment]) -> Score:
    """The score of any list of assignments (two shifts a day included, to be reported)."""
    violations: list[Violation] = []
    shifts = {s.id: s for s in instance.shifts}
    staff_ids = {p.id for p in instance.staff}

    # per person, per day, the shifts worked
    worked: dict[str, list[list[str]]] = {
        p.id: [[] for _ in range(instance.days)] for p in instance.staff
    }
    for who, day, shift in given:
        if who not in staff_ids or shift not in shifts or not 0 <= day < instance.days:
            violations.append(
                Violation("unknown", who, day, f"{who} day {day} shift {shift}: not in instance")
            )
            continue
        worked[who][day].append(shift)

    for person in instance.staff:
        days = worked[person.id]
        on = [bool(d) for d in days]

        def broken(rule: str, day: int | None, message: str, who: str = person.id) -> None:
            violations.append(Violation(rule, who, day, message))

        for day, today in enumerate(days):
            if len(today) > 1:
                broken("one_shift_a_day", day, f"{len(today)} shifts on day {day}")
            if day in person.days_off and today:
                broken("day_off", day, f"works on fixed day off {day}")
            if day + 1 < instance.days:
                for first in today:
                    for second in days[day + 1]:
                        if second in shifts[first].cannot_follow:
                            broken("succession", day, f"{second} on day {day + 1} after {first}")

        counts = Counter(s for today in days for s in today)
        for shift_id, count in counts.items():
            limit = person.max_shifts.get(shift_id)
            if limit is not None and count > limit:
                broken("max_shifts", None, f"{count} shifts {shift_id}, at most {limit}")

        minutes = sum(shifts[s].minutes for today in days for s in today)
        if not person.min_minutes <= minutes <= person.max_minutes:
            broken(
                "total_minutes",
                None,
                f"{minutes} minutes, not within {person.min_minutes}..{person.max_minutes}",
            )

        for start, length, value in _runs(on):
            inside = start > 0 and start + length < instance.days
            if value and length > person.max_consecutive_shifts:
                broken(
                    "max_consecutive_shifts",
                    start,
                    f"{length} days worked in a row, at most {person.max_consecutive_shifts}",
                )
            if value and inside and length < person.min_consecutive_shifts:
                broken(
                    "min_consecutive_shifts",
                    start,
                    f"{length} days worked in a row, at least {person.min_consecutive_shifts}",
                )
            if not value and inside and length < person.min_consecutive_days_off:
                broken(
                    "min_consecutive_days_off",
                    start,
                    f"{length} days off in a row, at least {person.min_consecutive_days_off}",
                )

        weekends = sum(
            1
            for w in range(instance.weekends)
            if any(on[d] for d in (7 * w + 5, 7 * w + 6) if d < instance.days)
        )
        if weekends > person.max_weekends:
            broken(
                "max_weekends", None, f"{weekends} weekends worked, at most {person.max_weekends}"
            )

    requests = 0
    for request in instance.on_requests:
        if request.shift not in worked[request.staff][request.day]:
            requests += request.weight
    for request in instance.off_requests:
        if request.shift in worked[request.staff][request.day]:
            requests += request.weight

    cover_cost = 0
    for cover in instance.cover:
        count = sum(cover.shift in worked[p.id][cover.day] for p in instance.staff)
        if count < cover.requirement:
            cover_cost += (cover.requirement - count) * cover.under_weight
        else:
            cover_cost += (count - cover.requirement) * cover.over_weight

    return Score(requests + cover_cost, requests, cover_cost, tuple(violations))


def _runs(values: list[bool]) -> list[tuple[int, int, bool]]:
    """Maximal runs of equal values: (start, length, value)."""
    runs: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append((start, i - start, values[start]))
            start = i
    return runs
