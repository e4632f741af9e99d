"""Adherence and conformance: what an agent did against what they were scheduled to do.
Pure: no database, no clock.

**The actual timeline** (`actual_spans`) covers a period with one of four states at every
instant, from three sources:

- presence changes (`tandem.workforce.presence`): available, break or signed out, each
  holding from its time until the next change (signed out before the first);
- console sessions, as the intervals they were live (from sign-in to sign-out, or to the
  last request plus the idle timeout when the session just lapsed): a presence set while a
  session was live (signing in, the workbench's button) ends with that stretch of
  sessions; the agent is then signed out (`means` "expiry") until their next change. A
  presence set with no session live (the API with a token) holds until the next change;
- leases, each from its claim (or assignment) to its submit, release, reap, or the lease's
  expiry.

The state at an instant: **break** when the presence says so (a lease held meanwhile is not
being worked); else **working** while a lease is held (a claim or a submit through the API
shows work even without a console sign-in); else **idle** when available; else **signed
out**.

**Adherence per interval** (`intervals`): 15 (or 30) minute intervals of UTC time from the
period's start; every time zone in use is offset from UTC by a multiple of 15 minutes, so
they are the local quarter-hours too, and a local day across a daylight-saving change has
92 or 100 of them. An instant is *in adherence* when it is scheduled and the agent is
working or idle (available), or when it is not scheduled and the agent is signed out. A
break in a shift is out of adherence: schedules carry no planned breaks yet. An interval
is in adherence when all of it is.

**Over a period** (`totals`), with S the scheduled minutes (the industry's definitions, as
NICE and Verint use them):

- *adherence* = minutes in adherence while scheduled / S: being where the schedule says, when
  it says;
- *conformance* = minutes worked or available (working + idle), scheduled or not / S: the
  amount of work time against the amount scheduled, whenever it was done (above 1 when the
  agent worked more than scheduled);

both None when nothing was scheduled. `off_schedule_minutes` counts the time signed in
(working, idle or on a break) outside the schedule, which adherence alone does not show."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from tandem.core.errors import InvalidInput

Interval = tuple[datetime, datetime]

INTERVALS = (15, 30)
PRESENCE_STATES = ("available", "break", "signed_out")
_EPSILON = 1e-6  # minutes: float sums of an interval's parts


class Actual(StrEnum):
    WORKING = "working"
    IDLE = "idle"
    BREAK = "break"
    SIGNED_OUT = "signed_out"


ORDER = (Actual.WORKING, Actual.IDLE, Actual.BREAK, Actual.SIGNED_OUT)


@dataclass(frozen=True)
class PresenceChange:
    at: datetime
    state: str  # available, break, signed_out
    means: str  # sign_in, sign_out, console, api


@dataclass(frozen=True)
class Span:
    """The agent's state over [start, end); `means`: how the presence behind it was set
    ("expiry" when a console session lapsed; None before any change)."""

    start: datetime
    end: datetime
    state: Actual
    means: str | None = None

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def adheres(scheduled: bool, state: Actual) -> bool:
    """In adherence: scheduled and working or available, or not scheduled and signed out."""
    if scheduled:
        return state in (Actual.WORKING, Actual.IDLE)
    return state is Actual.SIGNED_OUT


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged where they touch or overlap; empty ones dropped."""
    merged: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _covering(blocks: Sequence[Interval], starts: Sequence[datetime], at: datetime) -> int | None:
    """The index of the block holding `at`, if any (blocks merged, `starts` their starts)."""
    index = bisect.bisect_right(starts, at) - 1
    if index >= 0 and blocks[index][0] <= at < blocks[index][1]:
        return index
    return None


def actual_spans(
    changes: Sequence[PresenceChange],
    sessions: Iterable[Interval],
    leases: Iterable[Interval],
    start: datetime,
    end: datetime,
) -> list[Span]:
    """The agent's states over [start, end), adjacent equal spans merged (see the module's
    docstring). `changes` in the order they were made (those before `start` count: the
    latest one says the state at `start`)."""
    if end <= start:
        return []
    ordered = sorted(enumerate(changes), key=lambda pair: (pair[1].at, pair[0]))
    times = [change.at for _, change in ordered]
    blocks = merge(sessions)
    block_starts = [a for a, _ in blocks]
    worked = merge(leases)
    worked_starts = [a for a, _ in worked]

    # The moment each change stops holding because its sessions lapsed (None: it does not).
    lapses: list[datetime | None] = []
    for _, change in ordered:
        lapse = None
        if change.state != "signed_out":
            block = _covering(blocks, block_starts, change.at)
            if block is not None:
                lapse = blocks[block][1]
        lapses.append(lapse)

    points = {start, end}
    points.update(t for t in times if start < t < end)
    points.update(t for t in lapses if t is not None and start < t < end)
    for a, b in (*blocks, *worked):
        points.update(t for t in (a, b) if start < t < end)
    cuts = sorted(points)

    spans: list[Span] = []
    for p, q in pairwise(cuts):
        index = bisect.bisect_right(times, p) - 1
        presence, means = "signed_out", None
        if index >= 0:
            change = ordered[index][1]
            presence, means = change.state, change.means
            lapse = lapses[index]
            if lapse is not None and p >= lapse:
                presence, means = "signed_out", "expiry"
        working = _covering(worked, worked_starts, p) is not None
        if presence == "break":
            state = Actual.BREAK
        elif working:
            state = Actual.WORKING
        elif presence == "available":
            state = Actual.IDLE
        else:
            state = Actual.SIGNED_OUT
        if spans and spans[-1].state is state and spans[-1].means == means:
            spans[-1] = Span(spans[-1].start, q, state, means)
        else:
            spans.append(Span(p, q, state, means))
    return spans


def state_at(spans: Sequence[Span], at: datetime) -> Span | None:
    """The span holding `at`, if the spans cover it."""
    index = bisect.bisect_right([s.start for s in spans], at) - 1
    if index >= 0 and spans[index].start <= at < spans[index].end:
        return spans[index]
    return None


@dataclass(frozen=True)
class IntervalAdherence:
    """One interval: the minutes scheduled, of each actual state, and in adherence."""

    start: datetime
    end: datetime
    scheduled_minutes: float
    minutes: dict[Actual, float]  # every state, summing to the interval's length
    adherent_minutes: float  # in adherence, scheduled or not
    adherent_scheduled_minutes: float  # in adherence while scheduled
    off_schedule_minutes: float  # signed in (working, idle, break) while not scheduled

    @property
    def length(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def state(self) -> Actual:
        """The state of most of the interval (ties: working, idle, break, signed out)."""
        return max(ORDER, key=lambda s: (self.minutes[s], -ORDER.index(s)))

    @property
    def in_adherence(self) -> bool:
        return self.adherent_minutes >= self.length - _EPSILON


def _overlap(a: Interval, b: Interval) -> float:
    seconds = (min(a[1], b[1]) - max(a[0], b[0])).total_seconds()
    return max(0.0, seconds) / 60


def intervals(
    scheduled: Sequence[Interval],
    spans: Sequence[Span],
    start: datetime,
    end: datetime,
    *,
    interval_minutes: int = 15,
) -> list[IntervalAdherence]:
    """Per interval of [start, end) (the last one shorter when the period ends inside it):
    scheduled minutes, minutes of each actual state, minutes in adherence. Time the spans do
    not cover counts as signed out."""
    if interval_minutes not in INTERVALS:
        message = f"must be 15 or 30 (got {interval_minutes})"
        raise InvalidInput(
            f"interval_minutes: {message}",
            errors=[{"field": "interval_minutes", "message": message}],
        )
    schedule = merge(scheduled)
    spans = _filled(spans, start, end)
    step = timedelta(minutes=interval_minutes)
    found: list[IntervalAdherence] = []
    cursor = start
    while cursor < end:
        window = (cursor, min(cursor + step, end))
        on = [(max(a, window[0]), min(b, window[1])) for a, b in schedule]
        on = [(a, b) for a, b in on if b > a]
        minutes = dict.fromkeys(ORDER, 0.0)
        adherent = adherent_scheduled = off_schedule = 0.0
        for span in spans:
            part = _overlap((span.start, span.end), window)
            if part <= 0:
                continue
            minutes[span.state] += part
            while_on = sum(_overlap((span.start, span.end), s) for s in on)
            while_off = part - while_on
            if adheres(True, span.state):
                adherent += while_on
                adherent_scheduled += while_on
            if adheres(False, span.state):
                adherent += while_off
            else:
                off_schedule += while_off
        on_minutes = sum(_overlap(s, window) for s in on)
        found.append(
            IntervalAdherence(
                window[0],
                window[1],
                on_minutes,
                minutes,
                adherent,
                adherent_scheduled,
                off_schedule,
            )
        )
        cursor = window[1]
    return found


def _filled(spans: Sequence[Span], start: datetime, end: datetime) -> list[Span]:
    """The spans within [start, end), the gaps between them signed out."""
    filled: list[Span] = []
    cursor = start
    for span in sorted(spans, key=lambda s: s.start):
        a, b = max(span.start, cursor), min(span.end, end)
        if b <= a:
            continue
        if a > cursor:
            filled.append(Span(cursor, a, Actual.SIGNED_OUT))
        filled.append(Span(a, b, span.state, span.means))
        cursor = b
    if cursor < end:
        filled.append(Span(cursor, end, Actual.SIGNED_OUT))
    return filled


@dataclass(frozen=True)
class Totals:
    """A period's minutes, adherence and conformance (definitions in the module's docstring)."""

    scheduled_minutes: float = 0.0
    minutes: dict[Actual, float] = field(default_factory=lambda: dict.fromkeys(ORDER, 0.0))
    adherent_scheduled_minutes: float = 0.0
    off_schedule_minutes: float = 0.0

    @property
    def adherence(self) -> float | None:
        if self.scheduled_minutes <= 0:
            return None
        return self.adherent_scheduled_minutes / self.scheduled_minutes

    @property
    def conformance(self) -> float | None:
        if self.scheduled_minutes <= 0:
            return None
        worked = self.minutes[Actual.WORKING] + self.minutes[Actual.IDLE]
        return worked / self.scheduled_minutes


def totals(rows: Iterable[IntervalAdherence | Totals]) -> Totals:
    """The sums of intervals (of one agent, or of many: a center's), or of several agents'
    totals together."""
    scheduled = adherent = off = 0.0
    minutes = dict.fromkeys(ORDER, 0.0)
    for row in rows:
        scheduled += row.scheduled_minutes
        adherent += row.adherent_scheduled_minutes
        off += row.off_schedule_minutes
        for state, value in row.minutes.items():
            minutes[state] += value
    return Totals(scheduled, minutes, adherent, off)


def out_of_adherence(scheduled: bool, state: Actual) -> str | None:
    """Why an agent is out of adherence now, or None: "not working" (scheduled, but on a
    break or signed out) or "off schedule" (signed in while not scheduled)."""
    if adheres(scheduled, state):
        return None
    return "not working" if scheduled else "off schedule"
