"""SLA clocks of work items: due time, the at-risk instant, pausing and resuming. Pure."""

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

    @classmethod
    def for_process(
        cls,
        sla_minutes: int,
        sla_mode: str,
        client_calendar: dict[str, Any],
        at_risk_fraction: float,
    ) -> SlaPolicy:
        calendar = (
            BusinessCalendar.twenty_four_seven()
            if sla_mode == "24x7"
            else BusinessCalendar.from_dict(client_calendar)
        )
        return cls(timedelta(minutes=sla_minutes), calendar, at_risk_fraction)

    def start(self, received_at: datetime) -> tuple[datetime, datetime]:
        """(due_at, at_risk_at) of an item received at this instant."""
        return self.resume(received_at, self.target.total_seconds())

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
