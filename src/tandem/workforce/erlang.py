"""Staffing: how many people a workload needs. Pure: no database, no clock, no I/O.

Work answered live (calls, chats) is a queue with Poisson arrivals and exponential handle
times, computed exactly, without approximation tables:

- **Erlang C** (M/M/n, nobody gives up). Erlang B by its recursion, kept in log space
  (`1/B(k) = 1 + (k/A)·1/B(k-1)`), so hundreds or thousands of agents and large loads neither
  overflow nor underflow; then `C = n·B / (n - A·(1 - B))`, service level
  `1 - C·exp(-(n - A)·t/AHT)` and average speed of answer `C·AHT/(n - A)`.
- **Erlang A** (Palm's M/M/n+M: callers give up after an exponential patience of mean
  `patience_seconds`). Computed from the birth-death chain's stationary distribution: the
  states below n in closed form through Erlang B, the queue states `n + j` as the products
  `λ^j / ∏(nμ + iθ)`, summed in log space until the remaining tail, bounded by a geometric
  series, is below 1e-20 of the total. A caller who finds j waiting ahead reaches an agent
  with probability `nμ / (nμ + (j+1)θ)`, and, given that, after a sum of exponentials of rates
  `nμ + θ, ..., nμ + (j+1)θ`: the (j+1)-th order statistic of `nμ/θ + j + 1` exponentials of
  rate θ, whose distribution is the regularized incomplete beta `I_x(j+1, nμ/θ + 1)`,
  `x = 1 - exp(-θt)`, summed here as a negative binomial series (exact; no tables). This is
  the same model as Garnett, Mandelbaum and Reiman (2002), "Designing a call center with
  impatient customers", written in series instead of incomplete gamma functions.

Definitions (published tools differ, so here they are):

- `service_level`: the fraction of **all** arrivals answered within the target. For Erlang C
  every caller is answered, so it is `P(wait <= target)`; for Erlang A a caller who gives up
  counts as not answered in time, even if they gave up before the target.
- `asa_seconds` (average speed of answer): the mean wait of the callers **answered**
  (for Erlang C, every caller, those answered at once included). `mean_wait_seconds` is the
  mean wait of all arrivals, those who gave up included (Little: `E[queue]/λ`).
- `abandon_rate`: the fraction of arrivals who give up (0 for Erlang C).
- `occupancy`: the fraction of the agents' time spent handling: `λ·(1 - abandon)·AHT / n`.

Back-office work (items with a due time, no one on the line) is staffed by
`back_office_requirement`: see there.

Shrinkage (breaks, training, absence) turns the agents needed on the phones into the people
to schedule: `ceil(agents / (1 - shrinkage))`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tandem.core.errors import InvalidInput

# Past this many agents the search gives up: no single queue is staffed that large.
MAX_AGENTS = 100_000
# The queue states summed for Erlang A stop when the tail is below this share of the total.
_TAIL = math.log(1e-20)
_MAX_QUEUE_STATES = 5_000_000
_EPSILON = 1e-9  # rounding up 20.000000000000004 people to 20, not 21

Model = Literal["erlang_c", "erlang_a"]


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _positive(field: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise _refuse(field, f"must be more than 0 (got {value})")


def _not_negative(field: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise _refuse(field, f"must be 0 or more (got {value})")


def _fraction(field: str, value: float, *, low_open: bool, high_open: bool) -> None:
    low = value > 0 if low_open else value >= 0
    high = value < 1 if high_open else value <= 1
    if not (math.isfinite(value) and low and high):
        bounds = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise _refuse(field, f"must be a fraction in {bounds} (got {value})")


def _ceil(value: float) -> int:
    return math.ceil(value - _EPSILON)


@dataclass(frozen=True)
class Traffic:
    """What arrives in one interval, and how long it takes."""

    arrivals: float  # contacts offered in the interval
    interval_minutes: float
    aht_seconds: float  # average handle time
    patience_seconds: float | None = None  # mean patience; None: nobody gives up (Erlang C)

    def __post_init__(self) -> None:
        _not_negative("arrivals", self.arrivals)
        _positive("interval_minutes", self.interval_minutes)
        _positive("aht_seconds", self.aht_seconds)
        if self.patience_seconds is not None:
            _positive("patience_seconds", self.patience_seconds)

    @property
    def arrival_rate(self) -> float:
        """Arrivals per second."""
        return self.arrivals / (self.interval_minutes * 60)

    @property
    def offered_load(self) -> float:
        """In Erlangs: the agents' time the arrivals ask for, per second."""
        return self.arrival_rate * self.aht_seconds

    @property
    def model(self) -> Model:
        return "erlang_c" if self.patience_seconds is None else "erlang_a"


@dataclass(frozen=True)
class Performance:
    """How a queue does with so many agents (definitions in the module's docstring)."""

    model: Model
    agents: int
    target_seconds: float
    offered_load: float
    service_level: float
    asa_seconds: float  # math.inf when the queue grows without bound (Erlang C, n <= load)
    abandon_rate: float
    occupancy: float
    probability_of_waiting: float
    mean_wait_seconds: float


@dataclass(frozen=True)
class Staffing:
    """The least agents meeting the targets, and the people to schedule for them."""

    performance: Performance
    service_level_target: float
    max_occupancy: float
    shrinkage: float
    scheduled: int  # people to schedule: agents / (1 - shrinkage), rounded up


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log1p(math.exp(low - high))


def _log_inverse_erlang_b(agents: int, load: float) -> float:
    """log(1/B(agents, load)), by the recursion 1/B(k) = 1 + (k/A)·1/B(k-1), in logs."""
    log_inverse = 0.0
    log_load = math.log(load)
    for k in range(1, agents + 1):
        log_inverse = _logaddexp(0.0, math.log(k) - log_load + log_inverse)
    return log_inverse


def erlang_b(agents: int, load: float) -> float:
    """The probability that a caller finds all `agents` busy with no room to wait (M/M/n/n)."""
    _not_negative("agents", agents)
    _not_negative("offered_load", load)
    if load == 0:
        return 0.0 if agents > 0 else 1.0
    return math.exp(-_log_inverse_erlang_b(agents, load))


def erlang_c(agents: int, load: float) -> float:
    """The probability that a caller waits (M/M/n); 1 when the queue is unstable (n <= A)."""
    _not_negative("agents", agents)
    _not_negative("offered_load", load)
    if load == 0:
        return 0.0
    if agents <= load:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


def performance(traffic: Traffic, agents: int, target_seconds: float) -> Performance:
    """Service level, speed of answer, abandonment and occupancy with `agents` agents."""
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise _refuse("agents", f"must be a whole number, 0 or more (got {agents})")
    _not_negative("target_seconds", target_seconds)
    load = traffic.offered_load
    if load == 0:
        return Performance(traffic.model, agents, target_seconds, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if agents == 0:  # nobody answers: everyone waits, for ever or until they give up
        abandon = 0.0 if traffic.patience_seconds is None else 1.0
        return Performance(
            traffic.model, 0, target_seconds, load, 0.0, math.inf, abandon, 0.0, 1.0, math.inf
        )
    if traffic.patience_seconds is None:
        return _erlang_c(traffic, agents, target_seconds)
    return _erlang_a(traffic, agents, target_seconds, traffic.patience_seconds)


def _erlang_c(traffic: Traffic, agents: int, target: float) -> Performance:
    load, aht = traffic.offered_load, traffic.aht_seconds
    if agents <= load:  # the queue grows without bound: nobody is answered in time
        return Performance("erlang_c", agents, target, load, 0.0, math.inf, 0.0, 1.0, 1.0, math.inf)
    waits = erlang_c(agents, load)
    level = 1 - waits * math.exp(-(agents - load) * target / aht)
    asa = waits * aht / (agents - load)
    return Performance("erlang_c", agents, target, load, level, asa, 0.0, load / agents, waits, asa)


def _erlang_a(traffic: Traffic, agents: int, target: float, patience: float) -> Performance:
    rate = traffic.arrival_rate  # λ, per second
    service = agents / traffic.aht_seconds  # nμ: answers per second with every agent busy
    theta = 1 / patience  # θ: the rate at which one waiting caller gives up
    load = traffic.offered_load

    # Stationary probabilities relative to π_n: the states below n weigh 1/B - 1 (Erlang B);
    # the queue state n + j weighs q_j = λ^j / ∏_{i=1..j}(nμ + iθ).
    log_inverse_b = _log_inverse_erlang_b(agents, load)
    log_below = log_inverse_b + math.log(-math.expm1(-log_inverse_b))  # log(1/B - 1)
    log_rate = math.log(rate)
    log_q = [0.0]
    top = max(log_below, 0.0)
    j = 0
    while True:
        j += 1
        if j > _MAX_QUEUE_STATES:
            raise _refuse("patience_seconds", "too long for this load: give it without patience")
        step = log_rate - math.log(service + j * theta)
        log_q.append(log_q[-1] + step)
        top = max(top, log_q[-1])
        ratio = rate / (service + (j + 1) * theta)  # falls with j: the tail is geometric
        if ratio < 1 and log_q[-1] + math.log(ratio / (1 - ratio)) < top + _TAIL:
            break
    log_total = log_below
    for value in log_q:
        log_total = _logaddexp(log_total, value)

    below = math.exp(log_below - log_total)
    # x = 1 - exp(-θt); b = nμ/θ + 1; p_k the negative binomial terms of 1 - I_x(j+1, b).
    b = service / theta + 1
    log_x = math.log(-math.expm1(-theta * target)) if target > 0 else -math.inf
    log_p = -(service + theta) * target  # log p_0 = b·log(1 - x)
    cumulative = 0.0  # Σ_{k<=j} p_k
    harmonic = 0.0  # Σ_{i=1..j+1} 1/(nμ + iθ): the mean wait of one answered after j ahead
    waits = answered_in_time = abandoned = answered_wait = queued = 0.0
    for j, value in enumerate(log_q):
        seen = math.exp(value - log_total)  # P(an arrival finds n + j in the system)
        if j > 0:
            log_p += log_x + math.log((j - 1 + b) / j) if target > 0 else 0.0
        cumulative = 1.0 if target == 0 else min(1.0, cumulative + math.exp(log_p))
        harmonic += 1 / (service + (j + 1) * theta)
        answered = service / (service + (j + 1) * theta)
        waits += seen
        answered_in_time += seen * answered * (1 - cumulative)
        abandoned += seen * (1 - answered)
        answered_wait += seen * answered * harmonic
        queued += seen * j
    served = 1 - abandoned
    asa = answered_wait / served if served > 0 else math.inf
    return Performance(
        model="erlang_a",
        agents=agents,
        target_seconds=target,
        offered_load=load,
        service_level=min(1.0, below + answered_in_time),
        asa_seconds=asa,
        abandon_rate=abandoned,
        occupancy=min(1.0, load * served / agents),
        probability_of_waiting=min(1.0, waits),
        mean_wait_seconds=queued / rate,
    )


def scheduled_people(agents: int, shrinkage: float) -> int:
    """The people to schedule so that `agents` are on the phones after shrinkage."""
    _fraction("shrinkage", shrinkage, low_open=False, high_open=True)
    return _ceil(agents / (1 - shrinkage))


def least_agents(
    traffic: Traffic,
    target_seconds: float,
    service_level: float,
    *,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents whose service level reaches `service_level` (answered within
    `target_seconds`) and whose occupancy is at most `max_occupancy`; then the people to
    schedule for them after shrinkage. Both hold from some count on (the service level rises
    and the occupancy falls with each agent added), so a bisection finds the first."""
    _not_negative("target_seconds", target_seconds)
    _fraction("service_level", service_level, low_open=True, high_open=True)
    _fraction("max_occupancy", max_occupancy, low_open=True, high_open=False)
    _fraction("shrinkage", shrinkage, low_open=False, high_open=True)
    load = traffic.offered_load

    def meets(agents: int) -> Performance | None:
        result = performance(traffic, agents, target_seconds)
        good = result.service_level >= service_level and result.occupancy <= max_occupancy
        return result if good else None

    if load == 0:
        low = 0
    elif traffic.patience_seconds is None:  # stable only above the load; A/n <= the cap
        low = max(math.floor(load) + 1, _ceil(load / max_occupancy))
    else:  # answered in time <= answered <= n/A: no fewer than service_level·A agents
        low = max(1, math.floor(service_level * load))
    found = meets(low)
    if found is None:  # low fails: double past it until a count meets, then bisect
        high = max(2 * low, low + 1)
        while (found := meets(high)) is None:
            low, high = high, 2 * high
            if high > MAX_AGENTS:
                raise _refuse("arrivals", f"needs more than {MAX_AGENTS:,} agents in one queue")
        while high - low > 1:  # low fails, high meets
            middle = (low + high) // 2
            if (result := meets(middle)) is None:
                low = middle
            else:
                high, found = middle, result
    result = found
    return Staffing(
        performance=result,
        service_level_target=service_level,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
        scheduled=scheduled_people(result.agents, shrinkage),
    )


# Back-office work


@dataclass(frozen=True)
class BackOfficeItem:
    """One item: workable from the start of the interval it arrives in, due at a moment
    (minutes from the start of interval 0), taking its measured handle time."""

    arrival_interval: int
    due_minutes: float
    handle_seconds: float


@dataclass(frozen=True)
class IntervalNeed:
    interval: int
    people: float  # the least steady working people (fractional: a fluid requirement)
    agents: int  # people, rounded up after the occupancy cap
    scheduled: int  # agents after shrinkage
    backlog_seconds: float  # handle time still to do at the interval's start, arrivals in


def back_office_requirement(
    items: Sequence[BackOfficeItem],
    interval_minutes: float,
    *,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> list[IntervalNeed]:
    """The people needed in each interval (from 0 to the one holding the last due time) to
    finish every item before its due, at its handle time.

    Earliest-due-first fluid requirement: at the start of interval i (time t), with W(d) the
    handle time still to do of the items arrived so far and due at or before d, interval i
    needs `max over d of W(d) / (d - t)` people: the least steady staffing from t that
    finishes every known item by its due, working earliest due first. Staffed so, every
    deadline falling in the interval is met, and the next interval's requirement never rises
    except by new arrivals. Items arriving later do not lower an earlier interval's need
    (nothing is done ahead of its arrival)."""
    _positive("interval_minutes", interval_minutes)
    _fraction("max_occupancy", max_occupancy, low_open=True, high_open=False)
    _fraction("shrinkage", shrinkage, low_open=False, high_open=True)
    length = interval_minutes * 60
    arriving: dict[int, list[tuple[float, float]]] = {}
    last = -1
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if item.arrival_interval < 0:
            raise _refuse(f"{where}.arrival_interval", "must be 0 or more")
        _not_negative(f"{where}.handle_seconds", item.handle_seconds)
        if not math.isfinite(item.due_minutes) or item.due_minutes * 60 <= (
            item.arrival_interval * length
        ):
            raise _refuse(f"{where}.due_minutes", "must be after the start of its interval")
        due = item.due_minutes * 60
        arriving.setdefault(item.arrival_interval, []).append((due, item.handle_seconds))
        last = max(last, math.ceil(due / length) - 1)
    pending: list[list[float]] = []  # [due, remaining seconds], kept sorted by due
    needs: list[IntervalNeed] = []
    for interval in range(last + 1):
        start = interval * length
        pending.extend([due, work] for due, work in arriving.get(interval, []))
        pending.sort(key=lambda entry: entry[0])
        people = cumulative = 0.0
        for due, work in pending:
            cumulative += work
            people = max(people, cumulative / (due - start))
        backlog = cumulative
        budget = people * length
        for entry in pending:  # work the interval, earliest due first
            done = min(entry[1], budget)
            entry[1] -= done
            budget -= done
        pending = [entry for entry in pending if entry[1] > 1e-9 and entry[0] > start + length]
        agents = _ceil(people / max_occupancy)
        needs.append(
            IntervalNeed(
                interval=interval,
                people=people,
                agents=agents,
                scheduled=scheduled_people(agents, shrinkage),
                backlog_seconds=backlog,
            )
        )
    return needs
