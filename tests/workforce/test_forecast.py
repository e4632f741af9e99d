"""Forecasting arrivals and handle times (pure): the models, the choice by WAPE, holidays,
the intraday reforecast and refusals naming the parameter."""

from __future__ import annotations

import importlib
import random
import time
from datetime import date, timedelta

import pytest

from tandem.core.errors import InvalidInput
from tandem.workforce.forecast import (
    Arrivals,
    HandledWork,
    forecast_arrivals,
    forecast_handle_times,
    reforecast,
)

MONDAY = date(2026, 1, 5)
# Items per day by weekday (Monday first), and the shape of an office day: 08:00-18:00.
WEEKLY = (400, 380, 360, 350, 300, 60, 0)


def _day(total: float, per_day: int, rng: random.Random, noise: float) -> list[float]:
    opens, closes = per_day * 8 // 24, per_day * 18 // 24
    mean = total / (closes - opens)
    return [
        max(0.0, round(mean * (1 + rng.gauss(0, noise)))) if opens <= i < closes else 0.0
        for i in range(per_day)
    ]


def _series(
    weeks: int,
    *,
    interval: int = 30,
    growth: float = 0.0,
    noise: float = 0.1,
    holidays: frozenset[date] = frozenset(),
    holiday_share: float = 0.2,
    seed: int = 7,
) -> Arrivals:
    rng = random.Random(seed)
    per_day = 1440 // interval
    counts: list[float] = []
    for d in range(7 * weeks):
        day = MONDAY + timedelta(days=d)
        total = WEEKLY[day.weekday()] * (1 + growth * d)
        if day in holidays:
            total *= holiday_share
        counts.extend(_day(total, per_day, rng, noise))
    return Arrivals(MONDAY, interval, counts)


def test_a_weekly_pattern_is_forecast_by_its_profile_with_a_low_wape() -> None:
    history = _series(8)
    importlib.import_module("statsmodels.tsa.holtwinters")  # lazily imported: not timed

    started = time.perf_counter()
    forecast = forecast_arrivals(history, days=7)
    assert time.perf_counter() - started < 1.0  # two fits of each model

    scores = {s.model: s.wape for s in forecast.scores}
    assert scores["profile"] is not None and scores["profile"] < 0.12
    assert scores["holt_winters"] is not None
    assert forecast.first_day == MONDAY + timedelta(weeks=8)
    assert len(forecast.counts) == 7 * 48
    for total, expected in zip(forecast.day_totals(), WEEKLY, strict=True):
        assert total == pytest.approx(expected, abs=max(25, expected * 0.08))
    monday = forecast.counts[:48]
    assert sum(monday[:16]) == 0  # closed before 08:00
    assert monday[20] == pytest.approx(20, rel=0.2)  # 400 over 20 half-hours


def test_a_trend_is_followed_by_holt_winters() -> None:
    history = _series(8, growth=0.02, noise=0.05)  # 2 % more every day
    forecast = forecast_arrivals(history, days=7)

    scores = {s.model: s.wape for s in forecast.scores}
    assert forecast.model == "holt_winters"
    assert scores["holt_winters"] is not None and scores["profile"] is not None
    assert scores["holt_winters"] < scores["profile"]
    monday = forecast.day_totals()[0]
    assert monday == pytest.approx(400 * (1 + 0.02 * 56), rel=0.15)


def test_15_minute_intervals_and_two_weeks_held_back() -> None:
    forecast = forecast_arrivals(_series(6, interval=15), days=3, holdout_weeks=2)
    assert forecast.holdout_weeks == 2
    assert len(forecast.counts) == 3 * 96
    assert forecast.day_totals()[0] == pytest.approx(400, rel=0.1)


def test_holidays_are_left_out_of_the_fit_and_forecast_from_past_holidays() -> None:
    past = frozenset({MONDAY + timedelta(weeks=2, days=2), MONDAY + timedelta(weeks=5)})
    ahead = MONDAY + timedelta(weeks=8, days=1)  # a Tuesday
    history = _series(8, holidays=past, holiday_share=0.2)
    forecast = forecast_arrivals(history, days=7, holidays=past | {ahead})

    assert forecast.holidays == (ahead,)
    assert forecast.holiday_factor == pytest.approx(0.2, abs=0.05)
    totals = forecast.day_totals()
    assert totals[1] == pytest.approx(380 * 0.2, rel=0.3)
    # the ordinary days are not dragged down by the past holidays
    assert totals[2] == pytest.approx(360, rel=0.1)
    assert {s.model: s.wape for s in forecast.scores}["profile"] < 0.12  # type: ignore[operator]


def test_a_holiday_without_past_ones_is_forecast_as_the_quietest_weekday() -> None:
    ahead = MONDAY + timedelta(weeks=8)
    forecast = forecast_arrivals(_series(8), days=2, holidays={ahead})
    assert forecast.holiday_factor is None
    assert forecast.day_totals()[0] == 0  # like a Sunday
    assert forecast.day_totals()[1] == pytest.approx(380, rel=0.1)


def test_the_intraday_reforecast_scales_the_rest_of_the_day_within_bounds() -> None:
    day = [10.0] * 48
    busy = reforecast(day, [15.0] * 20)
    assert busy.factor == pytest.approx(1.5)
    assert busy.counts[:20] == (15.0,) * 20
    assert busy.counts[20:] == pytest.approx([15.0] * 28)

    flood = reforecast(day, [100.0] * 4)
    assert flood.factor == 2.0  # bounded
    quiet = reforecast(day, [0.0] * 4)
    assert quiet.factor == 0.5
    early = reforecast([5.0] * 48, [0.0])  # 5 expected: not yet enough to tell
    assert early.factor == 1.0
    assert reforecast(day, []).counts == tuple(day)


def test_handle_times_per_slot_fall_back_to_the_overall_mean() -> None:
    handled = [
        HandledWork(0, 20, 10, 10 * 300.0),
        HandledWork(0, 21, 2, 2 * 900.0),  # too few to stand on their own
    ]
    times = forecast_handle_times(handled, interval_minutes=30)
    assert times.samples == 12
    assert times.at(0, 20) == pytest.approx(300)
    assert times.overall_seconds == pytest.approx((3000 + 1800) / 12)
    assert times.at(0, 21) == pytest.approx(400)
    assert times.at(3, 5) == pytest.approx(400)
    assert forecast_handle_times([], interval_minutes=15).at(0, 0) is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda: forecast_arrivals(Arrivals(MONDAY, 20, [0.0] * 72 * 28), days=7),
            "interval_minutes",
        ),
        (lambda: forecast_arrivals(_series(2), days=7), "weeks"),
        (lambda: forecast_arrivals(_series(3), days=7, holdout_weeks=2), "weeks"),
        (lambda: forecast_arrivals(_series(4), days=0), "days"),
        (lambda: forecast_arrivals(_series(4), days=7, holdout_weeks=0), "holdout_weeks"),
        (lambda: forecast_arrivals(Arrivals(MONDAY, 30, [1.0] * 50), days=7), "counts"),
        (lambda: forecast_arrivals(Arrivals(MONDAY, 30, [-1.0] * 48 * 21), days=7), "counts"),
        (lambda: reforecast([1.0], [1.0, 2.0]), "actuals"),
        (lambda: forecast_handle_times([], interval_minutes=60), "interval_minutes"),
        (
            lambda: forecast_handle_times([HandledWork(7, 0, 1, 1.0)], interval_minutes=30),
            "handled",
        ),
    ],
)
def test_bad_input_names_the_parameter(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        call()  # type: ignore[operator]
    assert refused.value.extra["errors"][0]["field"] == field
