"""The staff a process needs per interval, from its forecast: what the planner's pages show,
what a what-if changes, and the requirement a roster is planned to.

Two ways to count, as `tandem.workforce.erlang` has them:

- `due` (back-office work, and mail): every item finished before its due time at the
  measured handle time. Each interval's forecast arrivals are one fluid batch of work due
  `due_minutes` after the interval starts (the process's SLA target, in wall-clock minutes:
  a business-hours calendar's nights are not skipped, which asks for more staff than the
  SLA needs, never fewer). The whole forecast horizon is counted together, so work carried
  over from one day is in the next day's first intervals.
- `live` (work answered while the customer waits): Erlang C, or Erlang A when a patience is
  given, per interval, at a service level (answered within `target_seconds`).

Both: an occupancy cap and shrinkage (breaks, training, absence) turn the agents working
into the people to schedule. Each arrival asks `work_per_arrival` handlings of people: fewer
than one where the client's rules decide some as they arrive, two under double entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tandem.catalog.models import Process
from tandem.core.errors import InvalidInput
from tandem.reports.forecasting import ProcessForecast
from tandem.workforce import erlang

Method = Literal["due", "live"]


@dataclass(frozen=True)
class Assumptions:
    """What the staff needed is computed from; a what-if changes some of them."""

    method: Method
    due_minutes: float  # `due`: how long after arrival an item must be finished
    volume_factor: float = 1.0  # the forecast's arrivals times this
    aht_seconds: float | None = None  # None: the forecast's handle time per interval
    service_level: float = 0.8  # `live`: the share answered within target_seconds
    target_seconds: float = 20.0
    patience_seconds: float | None = None  # `live`: Erlang A when given
    max_occupancy: float = 0.85
    shrinkage: float = 0.30


@dataclass(frozen=True)
class StaffNeeded:
    start: datetime  # the interval's start, in the client's time zone
    arrivals: float
    aht_seconds: float
    agents: int  # working, after the occupancy cap
    scheduled: int  # people to schedule, after shrinkage


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def process_assumptions(process: Process) -> Assumptions:
    """A process's own: worked to its SLA target (every kind Tandem has today is, mail
    included; chat and phone will be `live`)."""
    return Assumptions(method="due", due_minutes=float(process.sla_minutes))


def staff_needed(found: ProcessForecast, assumptions: Assumptions) -> list[StaffNeeded]:
    """The people needed in each interval of the forecast's days (today first)."""
    if not 0 < assumptions.volume_factor <= 100:
        raise _refuse("volume_factor", "must be above 0 and at most 100")
    if assumptions.aht_seconds is not None and not 0 < assumptions.aht_seconds <= 86_400:
        raise _refuse("aht_seconds", "must be above 0 and at most a day")
    if assumptions.method == "due" and not 0 < assumptions.due_minutes <= 60 * 24 * 31:
        raise _refuse("due_minutes", "must be above 0 and at most 31 days")
    forecast = found.main.forecast
    per_day = forecast.per_day
    starts = found.interval_starts()
    arrivals = [count * assumptions.volume_factor for count in forecast.counts]
    handle: list[float] = []
    for index, start in enumerate(starts):
        seconds = assumptions.aht_seconds or found.handle_times.at(start.weekday(), index % per_day)
        if seconds is None:
            raise _refuse("aht_seconds", "no handle time measured for this process yet: give one")
        handle.append(seconds)
    interval = found.interval_minutes
    work = found.work_per_arrival  # rules' decisions need nobody; double entry, two keyings
    if assumptions.method == "due":
        needs = erlang.back_office_requirement(
            [
                erlang.BackOfficeItem(i, i * interval + assumptions.due_minutes, n * work * aht)
                for i, (n, aht) in enumerate(zip(arrivals, handle, strict=True))
                if n > 0
            ],
            interval,
            max_occupancy=assumptions.max_occupancy,
            shrinkage=assumptions.shrinkage,
        )
        counted = {need.interval: (need.agents, need.scheduled) for need in needs}
        people = [counted.get(i, (0, 0)) for i in range(len(starts))]
    else:
        people = []
        for n, aht in zip(arrivals, handle, strict=True):
            staffing = erlang.least_agents(
                erlang.Traffic(n * work, interval, aht, assumptions.patience_seconds),
                assumptions.target_seconds,
                assumptions.service_level,
                max_occupancy=assumptions.max_occupancy,
                shrinkage=assumptions.shrinkage,
            )
            people.append((staffing.performance.agents, staffing.scheduled))
    return [
        StaffNeeded(start, n, aht, agents, scheduled)
        for start, n, aht, (agents, scheduled) in zip(starts, arrivals, handle, people, strict=True)
    ]
