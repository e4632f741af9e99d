"""A brand's service levels (pure): per priority, the first response, each next response and
the resolution, in minutes of the brand's calendar (the client's when the brand has none).

A brand keeps a list of targets, each for the conversations of at least `min_priority` (a
conversation's priority is a macro's, 0 when none set it): the one with the highest
`min_priority` not above the conversation's applies. The response targets are the due times
of the conversation's work items (the first before any reply, the next after one); the
resolution target runs from the conversation's first message to its solving, paused while
it waits on the customer (what remained is kept, and runs again when they answer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tandem.core.errors import InvalidInput
from tandem.servicedesk import states
from tandem.sla.calendar import BusinessCalendar

MAX_TARGETS = 10
MAX_MINUTES = 366 * 24 * 60
PRIORITY = (-100, 100)


@dataclass(frozen=True)
class Targets:
    min_priority: int
    first_response_minutes: int
    next_response_minutes: int
    resolution_minutes: int | None = None


def parsed(raw: Sequence[Mapping[str, Any]]) -> list[Targets]:
    """The targets as stored or sent; InvalidInput naming `targets[i].<field>` otherwise."""
    errors: list[dict[str, str]] = []
    if len(raw) > MAX_TARGETS:
        errors.append({"field": "targets", "message": f"at most {MAX_TARGETS}"})
    found: list[Targets] = []
    for i, entry in enumerate(raw[:MAX_TARGETS]):
        values: dict[str, int | None] = {}
        for name, required, low, high in (
            ("min_priority", True, *PRIORITY),
            ("first_response_minutes", True, 1, MAX_MINUTES),
            ("next_response_minutes", True, 1, MAX_MINUTES),
            ("resolution_minutes", False, 1, MAX_MINUTES),
        ):
            value = entry.get(name)
            if value is None and not required:
                values[name] = None
            elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors.append(
                    {"field": f"targets[{i}].{name}", "message": f"a whole number {low}..{high}"}
                )
            else:
                values[name] = value
        if len(values) == 4:
            found.append(Targets(**values))  # type: ignore[arg-type]
    priorities = [t.min_priority for t in found]
    if len(set(priorities)) != len(priorities):
        errors.append({"field": "targets", "message": "one target per min_priority"})
    if errors:
        raise InvalidInput("the service levels cannot be set as they are", errors=errors)
    return sorted(found, key=lambda t: -t.min_priority)


def stored(targets: Sequence[Targets]) -> list[dict[str, int | None]]:
    return [vars(t).copy() for t in targets]


def for_priority(targets: Sequence[Targets], priority: int | None) -> Targets | None:
    """The targets that apply to a conversation of this priority (None: the process's SLA)."""
    wanted = priority or 0
    return next(
        (t for t in sorted(targets, key=lambda t: -t.min_priority) if t.min_priority <= wanted),
        None,
    )


@dataclass
class Resolution:
    """A conversation's resolution clock, as its row keeps it."""

    due_at: datetime | None
    paused_remaining_s: float | None
    resolved_at: datetime | None


def started(targets: Targets | None, calendar: BusinessCalendar, now: datetime) -> Resolution:
    if targets is None or targets.resolution_minutes is None:
        return Resolution(None, None, None)
    return Resolution(calendar.add(now, timedelta(minutes=targets.resolution_minutes)), None, None)


def followed(
    clock: Resolution, state: str, calendar: BusinessCalendar, now: datetime
) -> Resolution:
    """The clock after the conversation moved to `state`: paused while pending (what
    remained kept, negative once past due), running again when open, stopped when solved."""
    due, remaining, resolved = clock.due_at, clock.paused_remaining_s, clock.resolved_at
    if due is None and remaining is None:
        return clock  # no resolution target
    if state == states.PENDING and remaining is None and due is not None:
        left = (
            calendar.between(now, due).total_seconds()
            if due >= now
            else -calendar.between(due, now).total_seconds()
        )
        return Resolution(None, left, None)
    if state in (states.NEW, states.OPEN):
        return Resolution(_resumed(due, remaining, calendar, now), None, None)
    if state in (states.SOLVED, states.CLOSED) and resolved is None:
        return Resolution(_resumed(due, remaining, calendar, now), None, now)
    return clock


def _resumed(
    due: datetime | None, remaining: float | None, calendar: BusinessCalendar, now: datetime
) -> datetime | None:
    """The due time once the clock runs again from `now` with what remained at the pause
    (past due then: as far past it now, in plain time)."""
    if remaining is None:
        return due
    if remaining < 0:
        return now - timedelta(seconds=-remaining)
    return calendar.add(now, timedelta(seconds=remaining))


def breached(clock: Resolution, now: datetime) -> bool | None:
    """Whether the resolution target is missed (None: no target, or paused)."""
    if clock.due_at is None:
        return None
    return (clock.resolved_at or now) > clock.due_at
