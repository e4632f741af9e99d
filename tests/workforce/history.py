"""A process's history for forecasts, seeded straight into the database: four weeks with a
known pattern in the client's time zone (New York), and handle times from claim and submit
events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.work import transitions
from tandem.work.models import WorkItemEvent
from tests.conftest import World

NEW_YORK = ZoneInfo("America/New_York")  # the insurer's
PER_INTERVAL = 10  # items per half-hour, 09:00-12:00 on weekdays
TODAY = date(2026, 3, 4)  # T0 is 10:00 in New York, a Wednesday


def row(process: Process, at: datetime, **extra: Any) -> dict[str, Any]:
    return transitions.new_item_row(
        process,
        None,  # type: ignore[arg-type]  # the due times are given
        {"document_ref": "x", **extra.pop("payload", {})},
        at,
        due=(at + timedelta(hours=4), at + timedelta(hours=3)),
        **extra,
    )


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK).astimezone(UTC)


def _seed(
    session: Session, process: Process, weeks: int, today_per_interval: int
) -> list[dict[str, Any]]:
    """Weekdays: PER_INTERVAL items in each half-hour from 09:00 to 12:00 (New York);
    Saturdays: 2 at 10:00; today: `today_per_interval` at 09:00 and 09:30."""
    rows = []
    for back in range(1, 7 * weeks + 1):
        day = TODAY - timedelta(days=back)
        if day.weekday() < 5:
            for half_hour in range(6):
                at = local(day, 9) + timedelta(minutes=30 * half_hour + 1)
                rows += [row(process, at) for _ in range(PER_INTERVAL)]
        elif day.weekday() == 5:
            rows += [row(process, local(day, 10, 5)) for _ in range(2)]
    for half_hour in range(2):
        at = local(TODAY, 9) + timedelta(minutes=30 * half_hour + 2)
        rows += [row(process, at) for _ in range(today_per_interval)]
    transitions.arrive(session, rows, actor="test")
    # gold copies are never counted (a call of their own: one executemany, one set of keys)
    gold = [row(process, local(TODAY - timedelta(days=1), 15), gold=True) for _ in range(50)]
    transitions.arrive(session, gold, actor="test")
    return rows


def _handled(session: Session, rows: list[dict[str, Any]], seconds: float, count: int) -> None:
    """`count` of yesterday's (a Tuesday's) 10:00 items claimed at 10:03 and submitted
    `seconds` later."""
    claimed = local(TODAY - timedelta(days=1), 10, 3)
    chosen = [r for r in rows if claimed - timedelta(minutes=3) <= r["received_at"] < claimed]
    for row in chosen[:count]:
        for seq, at, origin, state in (
            (2, claimed, "queued", "leased"),
            (3, claimed + timedelta(seconds=seconds), "leased", "submitted"),
        ):
            session.add(
                WorkItemEvent(
                    client_id=row["client_id"],
                    work_item_id=row["id"],
                    seq=seq,
                    at=at,
                    from_state=origin,
                    to_state=state,
                    actor="agent:test",
                    attempt=1,
                )
            )


def seed_history(container: Container, world: World) -> World:
    """Four weeks of the known pattern for the world's keying process, 15 items in each of
    today's half-hours so far, and 8 of Tuesday's 10:00 items handled in 300 s each."""
    with transaction(container.sessions) as session:
        process = session.get_one(Process, (world.client_id, world.process_id))
        rows = _seed(session, process, weeks=4, today_per_interval=15)
        _handled(session, rows, 300.0, 8)
    return world
