"""SLA clocks of work items: due time, the at-risk instant, pausing and resuming, and the
clock of work a client sent back (the rework target). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tandem.sla.calendar import BusinessCalendar


@dataclass(frozen=True)
class SlaPolicy:
    target: timedelta
    calendar: BusinessCalendar
    # Fraction of the target after which an open item is marked at risk.
    at_risk_fraction: float
    # How long the redo of a delivered result the client rejected may take, on the same
    # calendar; None: the process's own target.
    rework_target: timedelta | None = None

    @classmethod
    def for_process(
        cls,
        sla_minutes: int,
        sla_mode: str,
        client_calendar: dict[str, Any],
        at_risk_fraction: float,
        rework_minutes: int | None = None,
    ) -> SlaPolicy:
        calendar = (
            BusinessCalendar.twenty_four_seven()
            if sla_mode == "24x7"
            else BusinessCalendar.from_dict(client_calendar)
        )
        rework = timedelta(minutes=rework_minutes) if rework_minutes else None
        return cls(timedelta(minutes=sla_minutes), calendar, at_risk_fraction, rework)

    def start(self, received_at: datetime) -> tuple[datetime, datetime]:
        """(due_at, at_risk_at) of an item received at this instant."""
        return self.resume(received_at, self.target.total_seconds())

    def rework(self, rejected_at: datetime) -> tuple[datetime, datetime]:
        """(due_at, at_risk_at) of a delivered result the client sent back at this instant:
        a clock of its own, the rework target (the process's target when it sets none) from
        the rejection, at risk after the same fraction of it."""
        target = self.rework_target or self.target
        due_at = self.calendar.add(rejected_at, target)
        at_risk_at = self.calendar.add(rejected_at, target * self.at_risk_fraction)
        return due_at, at_risk_at

    def pause(self, now: datetime, due_at: datetime) -> float:
        """Seconds of business time left on the clock (negative when already overdue)."""
        if now <= due_at:
            return self.calendar.between(now, due_at).total_seconds()
        return -self.calendar.between(due_at, now).total_seconds()

    def resume(self, now: datetime, remaining_s: float) -> tuple[datetime, datetime]:
        """(due_at, at_risk_at) when the clock restarts at `now` with `remaining_s` left."""
        if remaining_s <= 0:
            return now, now
        remaining = timedelta(seconds=remaining_s)
        risk_margin = self.target * (1 - self.at_risk_fraction)
        due_at = self.calendar.add(now, remaining)
        at_risk_at = self.calendar.add(now, max(remaining - risk_margin, timedelta(0)))
        return due_at, at_risk_at
