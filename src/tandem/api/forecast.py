"""A process's forecast for workforce planning: arrivals per interval for the days ahead and
handle times (tandem.reports.forecasting). The provider's workforce readers only
(provider:workforce:read): a client's people get 403."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tandem.http import uses
from tandem.reports import forecasting
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

WorkforceReading = Annotated[Context, uses(Permission.WORKFORCE_READ)]


class ScoreOut(BaseModel):
    model: str = Field(description="profile (weekday x interval) or holt_winters")
    wape: float | None = Field(description="error on the held-back weeks; null: not scored")
    note: str | None


class IntervalOut(BaseModel):
    start: str = Field(description="the interval's start, in the client's time zone")
    arrivals: float
    handle_seconds: float | None = Field(description="null: nothing handled in the weeks read")


class DayOut(BaseModel):
    date: str
    arrivals: float


class ChannelOut(BaseModel):
    channel: str
    model: str
    scores: list[ScoreOut]
    arrivals: list[float] = Field(description="per interval, aligned with `intervals`")


class ForecastOut(BaseModel):
    process_id: uuid.UUID
    timezone: str
    interval_minutes: int
    weeks: int
    history_from: str
    model: str = Field(description="the model chosen, by the lower WAPE")
    scores: list[ScoreOut]
    holdout_weeks: int
    holidays: list[str] = Field(description="the forecast's days that are holidays")
    holiday_factor: float | None
    today_factor: float = Field(description="today's arrivals so far over their forecast")
    today_elapsed: int = Field(description="today's intervals over: their actual arrivals")
    handle_seconds: float | None
    handled: int
    days: list[DayOut]
    intervals: list[IntervalOut]
    channels: list[ChannelOut] = Field(description="a conversation process's channels")


@router.get("/processes/{process_id}/forecast", response_model=ForecastOut)
def process_forecast(
    ctx: WorkforceReading,
    process_id: uuid.UUID,
    interval_minutes: Annotated[int, Query(description="15 or 30")] = 30,
    weeks: Annotated[
        int,
        Query(description="weeks of history read, at most (3 or more)"),
    ] = 8,
    days: Annotated[int, Query(description="days forecast, from today")] = 7,
    country: Annotated[
        str | None,
        Query(
            max_length=2,
            description="add this country's public holidays (default: the client's country)",
        ),
    ] = None,
) -> dict[str, Any]:
    found = forecasting.process_forecast(
        ctx, process_id, interval_minutes=interval_minutes, weeks=weeks, days=days, country=country
    )
    return forecasting.figures(found)
