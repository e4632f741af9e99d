"""A process's forecast: its arrivals per interval for the days ahead (per channel too for a
service desk's conversations) and its handle times, from the work items and their events
of the last weeks, in its client's time zone; the models are `tandem.workforce.forecast`'s.

It lives with the read models (not in `workforce`) because it reads work items and their
events, which the workforce layer sits below.

Both queries are grouped in the database, by 15-minute UTC buckets: every time zone in use
is offset from UTC by a multiple of 15 minutes, so each bucket falls inside one local
interval of 15 or 30 minutes, whatever the zone or daylight-saving time; a few thousand
rows come back, however many items there were. Gold copies are left out; today's arrivals
so far reforecast the rest of today."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as public_holidays
from sqlalchemy import ColumnElement, Integer, and_, cast, func, select
from sqlalchemy.orm import Session, aliased

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.db import is_postgres
from tandem.core.errors import InvalidInput
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.workforce import forecast as models

BUCKET_SECONDS = 900
MAX_WEEKS = 26
MIN_WEEKS = 3  # one held back to choose the model, two to fit it
ALL = "all"  # the series of every channel together


@dataclass(frozen=True)
class ChannelForecast:
    channel: str  # "all", or a conversation's channel ("email", "web")
    forecast: models.Forecast
    today_factor: float  # today's reforecast factor (1.0: nothing changed)
    today_elapsed: int  # today's intervals already over, their counts the actuals
    planned_today: tuple[float, ...]  # today's forecast as made before today's arrivals


@dataclass(frozen=True)
class ProcessForecast:
    process_id: uuid.UUID
    client_id: int
    timezone: str
    interval_minutes: int
    weeks: int
    history_from: date
    channels: tuple[ChannelForecast, ...]  # "all" first
    handle_times: models.HandleTimes
    # The share of arrivals people work on: the rest were decided by the client's rules as
    # they arrived (1.0 for processes without rules); and how many times each is keyed (2
    # under double entry). Staffing counts arrivals times both.
    worked_share: float = 1.0
    keyings: int = 1

    @property
    def work_per_arrival(self) -> float:
        """Handlings each arrival asks of people, on average."""
        return self.worked_share * self.keyings

    @property
    def main(self) -> ChannelForecast:
        return self.channels[0]

    def interval_starts(self) -> list[datetime]:
        """Each forecast interval's start, in the client's time zone (wall clock)."""
        zone = ZoneInfo(self.timezone)
        first = self.main.forecast.first_day
        step = timedelta(minutes=self.interval_minutes)
        return [
            datetime.combine(first + timedelta(days=d), time(), zone) + i * step
            for d in range(len(self.main.forecast.counts) // self.main.forecast.per_day)
            for i in range(self.main.forecast.per_day)
        ]


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _bucket(session: Session, column: Any) -> ColumnElement[Any]:
    """The 15-minute UTC bucket of a timestamp: seconds since the epoch // 900."""
    if is_postgres(session):
        return cast(func.floor(func.extract("epoch", column) / BUCKET_SECONDS), Integer)
    return cast(func.strftime("%s", column), Integer) / BUCKET_SECONDS


def _holidays(client: Client, country: str | None, years: Iterable[int]) -> frozenset[date]:
    """The client's calendar's holidays, and the country's public holidays when named."""
    days = set(BusinessCalendar.from_dict(client.calendar).holidays)
    if country:
        try:
            days.update(public_holidays.country_holidays(country.upper(), years=sorted(years)))
        except NotImplementedError:
            raise _refuse("country", f"no public holidays known for {country!r}") from None
    return frozenset(days)


def process_forecast(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    interval_minutes: int = 30,
    weeks: int = 8,
    days: int = 7,
    country: str | None = None,
) -> ProcessForecast:
    """The process's arrivals for `days` days from today (local), from the `weeks` weeks
    before today (fewer, down to three, when its first arrival is more recent), and today's
    arrivals so far; its handle times from the same weeks."""
    per_day = models.check_interval(interval_minutes)
    if not 1 <= weeks <= MAX_WEEKS:
        raise _refuse("weeks", f"must be 1 to {MAX_WEEKS} (got {weeks})")
    if not 1 <= days <= models.MAX_DAYS:  # checked before any date is computed from it
        raise _refuse("days", f"must be 1 to {models.MAX_DAYS} (got {days})")
    process = get_process(ctx, process_id)
    client = ctx.session.get_one(Client, process.client_id)
    zone = ZoneInfo(client.timezone)
    today = ctx.now.astimezone(zone).date()
    first = today - timedelta(weeks=weeks)
    since = datetime.combine(first, time(), zone).astimezone(UTC)
    span = (weeks * 7 + 1) * per_day  # the history's days and today
    series: dict[str, list[float]] = {ALL: [0.0] * span}

    def slot(bucket: int) -> tuple[int, int]:
        local = datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC).astimezone(zone)
        minute = local.hour * 60 + local.minute
        return (local.date() - first).days, minute // interval_minutes

    for channel, bucket, count in _arrivals(ctx.session, process, since, ctx.now):
        day, interval = slot(bucket)
        if not 0 <= day <= weeks * 7:
            continue
        for name in (ALL, channel) if channel else (ALL,):
            counts = series.setdefault(name, [0.0] * span)
            counts[day * per_day + interval] += count
    # A process younger than the weeks asked learns from its own weeks only (no fewer than
    # the models need): the weeks before its first arrival were not quiet, it did not exist.
    week = 7 * per_day
    seen = next((i for i, c in enumerate(series[ALL][: weeks * week]) if c), None)
    if seen is not None and (lived := max(MIN_WEEKS, -(-(weeks * week - seen) // week))) < weeks:
        series = {name: counts[(weeks - lived) * week :] for name, counts in series.items()}
        first += timedelta(weeks=weeks - lived)
        weeks = lived

    years = {first.year, today.year, (today + timedelta(days=days)).year}
    holidays = _holidays(client, country or client.country, years)
    now_local = ctx.now.astimezone(zone)
    elapsed = (now_local.hour * 60 + now_local.minute) // interval_minutes
    channels = []
    for name in sorted(series, key=lambda n: (n != ALL, n)):
        counts = series[name]
        history = models.Arrivals(first, interval_minutes, counts[: weeks * 7 * per_day])
        ahead = models.forecast_arrivals(history, days=days, holidays=holidays)
        today_counts = counts[weeks * 7 * per_day :][:elapsed]
        again = models.reforecast(ahead.counts[:per_day], today_counts)
        revised = replace(ahead, counts=again.counts + ahead.counts[per_day:])
        channels.append(
            ChannelForecast(
                name, revised, again.factor, again.elapsed, tuple(ahead.counts[:per_day])
            )
        )

    worked_share = 1.0
    if process.kind == "decision":
        arrived = sum(series[ALL][: weeks * 7 * per_day])
        today_start = datetime.combine(today, time(), zone).astimezone(UTC)
        decided = _decided_at_arrival(ctx.session, process, since, today_start)
        worked_share = 1 - decided / arrived if arrived else 1.0
    handled = []
    for bucket, count, seconds in _handled(ctx.session, process, since, ctx.now):
        day, interval = slot(bucket)
        weekday = (first + timedelta(days=day)).weekday()
        handled.append(models.HandledWork(weekday, interval, count, float(seconds or 0)))
    return ProcessForecast(
        process_id=process.id,
        client_id=process.client_id,
        timezone=client.timezone,
        interval_minutes=interval_minutes,
        weeks=weeks,
        history_from=first,
        channels=tuple(channels),
        handle_times=models.forecast_handle_times(handled, interval_minutes=interval_minutes),
        worked_share=max(0.0, min(1.0, worked_share)),
        keyings=2 if process.qa_mode == "double_entry" else 1,
    )


def _arrivals(
    session: Session, process: Process, since: datetime, until: datetime
) -> list[tuple[str | None, int, int]]:
    """(channel, 15-minute bucket, items) of the process's arrivals (gold copies left out);
    the channel only for conversations."""
    bucket = _bucket(session, WorkItem.received_at).label("bucket")
    keys: list[ColumnElement[Any]] = [bucket]
    if process.kind == "conversation":
        keys.append(WorkItem.payload["channel"].as_string().label("channel"))
    rows = session.execute(
        select(func.count(), *keys)
        .where(
            WorkItem.client_id == process.client_id,
            WorkItem.process_id == process.id,
            WorkItem.received_at >= since,
            WorkItem.received_at < until,
            WorkItem.gold.is_(False),
        )
        .group_by(*keys)
    )
    return [(row[2] if len(row) > 2 else None, int(row[1]), int(row[0])) for row in rows]


def _decided_at_arrival(
    session: Session, process: Process, since: datetime, until: datetime
) -> int:
    """Arrivals the client's rules delivered as they arrived (received -> delivered): no
    person worked them. Counted over the arrivals' own weeks (before today)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkItemEvent)
            .join(
                WorkItem,
                and_(
                    WorkItem.client_id == WorkItemEvent.client_id,
                    WorkItem.id == WorkItemEvent.work_item_id,
                ),
            )
            .where(
                WorkItem.client_id == process.client_id,
                WorkItem.process_id == process.id,
                WorkItem.received_at >= since,
                WorkItem.received_at < until,
                WorkItem.gold.is_(False),
                WorkItemEvent.from_state == State.RECEIVED.value,
                WorkItemEvent.to_state == State.DELIVERED.value,
            )
        )
        or 0
    )


def _handled(
    session: Session, process: Process, since: datetime, until: datetime
) -> list[tuple[int, int, float | None]]:
    """(15-minute bucket of the claim, attempts handled, their handle times' sum in seconds):
    each attempt from its claim (-> leased) to its submit (leased -> submitted)."""
    claim, submit = aliased(WorkItemEvent), aliased(WorkItemEvent)
    seconds: ColumnElement[Any]
    if is_postgres(session):
        seconds = func.extract("epoch", submit.at - claim.at)
    else:
        seconds = (func.julianday(submit.at) - func.julianday(claim.at)) * 86400.0
    bucket = _bucket(session, claim.at).label("bucket")
    rows = session.execute(
        select(bucket, func.count(), func.sum(seconds))
        .select_from(claim)
        .join(
            submit,
            and_(
                submit.client_id == claim.client_id,
                submit.work_item_id == claim.work_item_id,
                submit.attempt == claim.attempt,
                submit.from_state == State.LEASED.value,
                submit.to_state == State.SUBMITTED.value,
            ),
        )
        .join(
            WorkItem,
            and_(WorkItem.client_id == claim.client_id, WorkItem.id == claim.work_item_id),
        )
        .where(
            claim.client_id == process.client_id,
            claim.to_state == State.LEASED.value,
            claim.at >= since,
            claim.at < until,
            WorkItem.process_id == process.id,
            WorkItem.gold.is_(False),
        )
        .group_by(bucket)
    )
    return [(int(b), int(n), None if s is None else float(s)) for b, n, s in rows]


def _scores(forecast: models.Forecast) -> list[dict[str, Any]]:
    return [{"model": s.model, "wape": s.wape, "note": s.note} for s in forecast.scores]


def figures(found: ProcessForecast) -> dict[str, Any]:
    """The forecast as JSON: the chosen model, each model's WAPE, and per interval (its
    local start) the arrivals expected and the handle time; per channel for conversations.
    The API answers it and `tandem wfm forecast --json` prints it."""
    main = found.main.forecast
    starts = found.interval_starts()
    per_day = main.per_day
    intervals = []
    for index, (start, arrivals) in enumerate(zip(starts, main.counts, strict=True)):
        handle = found.handle_times.at(start.weekday(), index % per_day)
        intervals.append(
            {"start": start.isoformat(), "arrivals": arrivals, "handle_seconds": handle}
        )
    return {
        "process_id": str(found.process_id),
        "timezone": found.timezone,
        "interval_minutes": found.interval_minutes,
        "weeks": found.weeks,
        "history_from": found.history_from.isoformat(),
        "model": main.model,
        "scores": _scores(main),
        "holdout_weeks": main.holdout_weeks,
        "holidays": [day.isoformat() for day in main.holidays],
        "holiday_factor": main.holiday_factor,
        "today_factor": found.main.today_factor,
        "today_elapsed": found.main.today_elapsed,
        "handle_seconds": found.handle_times.overall_seconds,
        "worked_share": found.worked_share,
        "keyings": found.keyings,
        "handled": found.handle_times.samples,
        "days": [
            {"date": (main.first_day + timedelta(days=d)).isoformat(), "arrivals": total}
            for d, total in enumerate(main.day_totals())
        ],
        "intervals": intervals,
        "channels": [
            {
                "channel": c.channel,
                "model": c.forecast.model,
                "scores": _scores(c.forecast),
                "arrivals": list(c.forecast.counts),
            }
            for c in found.channels[1:]
        ],
    }
