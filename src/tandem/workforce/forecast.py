"""Forecasting arrivals and handle times per interval. Pure: no database, no clock, no I/O.

A history is the count of arrivals per interval (15 or 30 minutes) of whole days in the
client's local time, oldest first. Two models forecast it:

- **profile**: the seasonal profile by weekday and interval, the mean of the same weekday's
  last `profile_weeks` days (holidays left out). Sound for stable work.
- **holt_winters**: Holt-Winters exponential smoothing (statsmodels `ExponentialSmoothing`,
  additive damped trend, additive weekly season) on the **daily totals**, each forecast day
  then spread over its intervals by the weekday's intraday shape from the profile. Not a
  weekly season in intervals: that is 336 (30 min) or 672 (15 min) seasonal states for
  8 weeks of data, each one estimated from only 8 points, and the fit takes about a second
  (measured 0.85 s for 8 weeks of 30-minute data); on 56 daily totals it takes tens of
  milliseconds, follows a trend the profile lags behind, and the shape of a day changes
  far less than its volume. The season is additive because back offices have closed days
  (zero arrivals) that multiplicative seasons cannot fit; forecasts are clipped at 0.

**Choosing**: each model is fitted without the last `holdout_weeks` weeks, forecasts them,
and is scored by WAPE (sum of absolute errors / sum of arrivals, holidays left out); the
lower wins (the profile on a tie, or when nothing could be scored) and is fitted again on
the whole history.

**Holidays** (the client's public holidays): their days are left out of the profile and of
the WAPE, and their daily totals are replaced by the profile's before Holt-Winters is fitted.
A holiday ahead is forecast as a normal day of its weekday times the **holiday factor**: the
arrivals of the history's holidays over what the profile expected on them (at most 1.5).
Without a holiday in the history, a holiday is forecast as the profile's quietest weekday
(most operations run a holiday like a Sunday).

**Intraday reforecast** (`reforecast`): the rest of today is scaled by today's arrivals so
far over the forecast so far, bounded to [0.5, 2] and only once at least `min_volume`
arrivals were expected (a few early items say little).

**Handle times** (`forecast_handle_times`): the mean handle time per weekday and interval
where at least `min_samples` were handled, else the overall mean.

Daylight-saving days are counted on the local wall clock: the hour skipped in spring has no
arrivals, the hour repeated in autumn counts twice into the same intervals."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from tandem.core.errors import InvalidInput

INTERVALS = (15, 30)
MAX_DAYS = 35  # the longest horizon: a forecast beyond five weeks is a plan, not a forecast
HOLIDAY_FACTOR_CAP = 1.5
REFORECAST_BOUNDS = (0.5, 2.0)

Model = Literal["profile", "holt_winters"]
MODELS: tuple[Model, ...] = ("profile", "holt_winters")


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def check_interval(interval_minutes: int) -> int:
    """The intervals per day; refuses anything but 15 or 30 minutes."""
    if interval_minutes not in INTERVALS:
        raise _refuse("interval_minutes", f"must be 15 or 30 (got {interval_minutes})")
    return 1440 // interval_minutes


@dataclass(frozen=True)
class Arrivals:
    """Arrivals per interval of whole local days from `first_day`, oldest first."""

    first_day: date
    interval_minutes: int
    counts: Sequence[float]

    @property
    def per_day(self) -> int:
        return 1440 // self.interval_minutes

    @property
    def days(self) -> int:
        return len(self.counts) // self.per_day

    def day(self, index: int) -> Sequence[float]:
        return self.counts[index * self.per_day : (index + 1) * self.per_day]


@dataclass(frozen=True)
class Score:
    """A model's error on the held-back weeks (None: it could not be scored, see `note`)."""

    model: Model
    wape: float | None
    note: str | None = None


@dataclass(frozen=True)
class Forecast:
    """Expected arrivals per interval of `days` days from `first_day`."""

    first_day: date
    interval_minutes: int
    counts: tuple[float, ...]
    model: Model
    scores: tuple[Score, ...]
    holdout_weeks: int
    holidays: tuple[date, ...]  # the forecast's days that are holidays
    holiday_factor: float | None  # None: holidays forecast as the quietest weekday

    @property
    def per_day(self) -> int:
        return 1440 // self.interval_minutes

    def day_totals(self) -> list[float]:
        n = self.per_day
        return [sum(self.counts[i : i + n]) for i in range(0, len(self.counts), n)]


def _checked(history: Arrivals, days: int, holdout_weeks: int, profile_weeks: int) -> None:
    per_day = check_interval(history.interval_minutes)
    if len(history.counts) % per_day:
        raise _refuse("counts", f"must be whole days of {per_day} intervals")
    if any(not math.isfinite(c) or c < 0 for c in history.counts):
        raise _refuse("counts", "must be finite and 0 or more")
    if not 1 <= days <= MAX_DAYS:
        raise _refuse("days", f"must be 1 to {MAX_DAYS} (got {days})")
    if not 1 <= holdout_weeks <= 8:
        raise _refuse("holdout_weeks", f"must be 1 to 8 (got {holdout_weeks})")
    if profile_weeks < 1:
        raise _refuse("profile_weeks", f"must be 1 or more (got {profile_weeks})")
    needed = 7 * (holdout_weeks + 2)
    if history.days < needed:
        raise _refuse(
            "weeks",
            f"needs at least {needed // 7} weeks of history ({holdout_weeks} held back, 2 to "
            f"fit); got {history.days} days",
        )


class _Profile:
    """Mean arrivals per weekday and interval over the last `weeks` of each weekday's
    ordinary days (holidays left out)."""

    def __init__(self, history: Arrivals, holidays: Set[date], weeks: int) -> None:
        n = history.per_day
        sums = [[0.0] * n for _ in range(7)]
        seen = [0] * 7
        everything, ordinary = [0.0] * n, 0
        for index in reversed(range(history.days)):
            day = history.first_day + timedelta(days=index)
            if day in holidays:
                continue
            counts = history.day(index)
            ordinary += 1
            for i, c in enumerate(counts):
                everything[i] += c
            weekday = day.weekday()
            if seen[weekday] < weeks:
                seen[weekday] += 1
                for i, c in enumerate(counts):
                    sums[weekday][i] += c
        fallback = [c / ordinary for c in everything] if ordinary else [0.0] * n
        self.by_weekday = [
            [c / seen[w] for c in sums[w]] if seen[w] else list(fallback) for w in range(7)
        ]
        self.totals = [sum(day) for day in self.by_weekday]
        overall = sum(fallback)
        self.overall_shape = [c / overall for c in fallback] if overall else [1.0 / n] * n

    def shape(self, weekday: int) -> list[float]:
        """The weekday's share of its day per interval (the overall shape if it is empty)."""
        total = self.totals[weekday]
        if total <= 0:
            return self.overall_shape
        return [c / total for c in self.by_weekday[weekday]]


def _holt_winters_totals(totals: Sequence[float], days: int) -> list[float]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # ~1.5 s to import: lazily

    with warnings.catch_warnings():  # convergence chatter on short or flat series
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            [float(t) for t in totals],
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=7,
            initialization_method="estimated",
        ).fit()
        ahead = fitted.forecast(days)
    values = [float(v) for v in ahead]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("the fit did not converge to finite values")
    return [max(0.0, v) for v in values]


def _ordinary_forecast(
    model: Model, history: Arrivals, holidays: Set[date], profile_weeks: int, days: int
) -> list[float]:
    """`days` days after the history, as if none of them were a holiday."""
    profile = _Profile(history, holidays, profile_weeks)
    start = history.first_day + timedelta(days=history.days)
    weekdays = [(start + timedelta(days=d)).weekday() for d in range(days)]
    if model == "profile":
        return [c for w in weekdays for c in profile.by_weekday[w]]
    totals = []
    for index in range(history.days):  # holidays' totals replaced by the profile's
        day = history.first_day + timedelta(days=index)
        ordinary = day not in holidays
        totals.append(sum(history.day(index)) if ordinary else profile.totals[day.weekday()])
    ahead = _holt_winters_totals(totals, days)
    return [
        total * share
        for total, w in zip(ahead, weekdays, strict=True)
        for share in profile.shape(w)
    ]


def _wape(actual: Iterable[float], forecast: Iterable[float]) -> float | None:
    errors = volume = 0.0
    for a, f in zip(actual, forecast, strict=True):
        errors += abs(a - f)
        volume += a
    return errors / volume if volume > 0 else None


def _score(
    model: Model, history: Arrivals, holidays: Set[date], holdout_weeks: int, profile_weeks: int
) -> Score:
    n, held = history.per_day, 7 * holdout_weeks
    fit_days = history.days - held
    fit = Arrivals(history.first_day, history.interval_minutes, history.counts[: fit_days * n])
    try:
        predicted = _ordinary_forecast(model, fit, holidays, profile_weeks, held)
    except (ValueError, ArithmeticError, IndexError) as exc:  # a fit that failed
        return Score(model, None, f"could not be fitted: {exc}")
    actual: list[float] = []
    expected: list[float] = []
    for d in range(held):
        if history.first_day + timedelta(days=fit_days + d) in holidays:
            continue
        actual.extend(history.day(fit_days + d))
        expected.extend(predicted[d * n : (d + 1) * n])
    wape = _wape(actual, expected)
    return Score(model, wape, None if wape is not None else "no arrivals in the held-back weeks")


def forecast_arrivals(
    history: Arrivals,
    *,
    days: int,
    holidays: Set[date] = frozenset(),
    holdout_weeks: int = 1,
    profile_weeks: int = 4,
) -> Forecast:
    """Arrivals per interval for the `days` days after the history, by the model with the
    lower WAPE on the last `holdout_weeks` weeks. `holidays` may reach into the future."""
    _checked(history, days, holdout_weeks, profile_weeks)
    scores = tuple(_score(m, history, holidays, holdout_weeks, profile_weeks) for m in MODELS)
    scored = [s for s in scores if s.wape is not None]
    model: Model = "profile"  # also on a tie, or when nothing could be scored
    if scored:
        model = min(scored, key=lambda s: (s.wape or 0.0, MODELS.index(s.model))).model
    try:
        counts = _ordinary_forecast(model, history, holidays, profile_weeks, days)
    except (ValueError, ArithmeticError, IndexError):
        model = "profile"
        counts = _ordinary_forecast(model, history, holidays, profile_weeks, days)
    profile = _Profile(history, holidays, profile_weeks)
    factor = _holiday_factor(history, holidays, profile)
    start = history.first_day + timedelta(days=history.days)
    ahead_holidays = []
    n = history.per_day
    for d in range(days):
        day = start + timedelta(days=d)
        if day not in holidays:
            continue
        ahead_holidays.append(day)
        if factor is not None:
            counts[d * n : (d + 1) * n] = [c * factor for c in counts[d * n : (d + 1) * n]]
        else:
            quietest = min(range(7), key=lambda w: profile.totals[w])
            counts[d * n : (d + 1) * n] = profile.by_weekday[quietest]
    return Forecast(
        first_day=start,
        interval_minutes=history.interval_minutes,
        counts=tuple(counts),
        model=model,
        scores=scores,
        holdout_weeks=holdout_weeks,
        holidays=tuple(ahead_holidays),
        holiday_factor=factor,
    )


def _holiday_factor(history: Arrivals, holidays: Set[date], profile: _Profile) -> float | None:
    """The history's holidays' arrivals over the profile's for their weekdays (None: the
    history has no holiday, or the profile expected nothing on them)."""
    actual = expected = 0.0
    for index in range(history.days):
        day = history.first_day + timedelta(days=index)
        if day in holidays:
            actual += sum(history.day(index))
            expected += profile.totals[day.weekday()]
    if expected <= 0:
        return None
    return min(actual / expected, HOLIDAY_FACTOR_CAP)


@dataclass(frozen=True)
class Reforecast:
    """Today's intervals: the arrivals of those elapsed, the rest forecast times `factor`."""

    counts: tuple[float, ...]
    factor: float
    elapsed: int


def reforecast(
    forecast: Sequence[float],
    actuals: Sequence[float],
    *,
    min_volume: float = 10.0,
    bounds: tuple[float, float] = REFORECAST_BOUNDS,
) -> Reforecast:
    """Today's forecast per interval again from `actuals`, the arrivals of the intervals
    elapsed so far (the first len(actuals) of the day)."""
    if len(actuals) > len(forecast):
        raise _refuse("actuals", f"has {len(actuals)} intervals; the day has {len(forecast)}")
    if any(not math.isfinite(a) or a < 0 for a in actuals):
        raise _refuse("actuals", "must be finite and 0 or more")
    elapsed = len(actuals)
    expected = sum(forecast[:elapsed])
    factor = 1.0
    if expected >= min_volume:
        low, high = bounds
        factor = min(max(sum(actuals) / expected, low), high)
    rest = [c * factor for c in forecast[elapsed:]]
    return Reforecast((*(float(a) for a in actuals), *rest), factor, elapsed)


@dataclass(frozen=True)
class HandledWork:
    """Work handled in one weekday and interval: how many, and their handle times' sum."""

    weekday: int
    interval: int
    count: int
    seconds: float


@dataclass(frozen=True)
class HandleTimes:
    """Expected handle time in seconds per weekday and interval (`at`), from `samples`
    handlings; None everywhere when nothing was handled."""

    interval_minutes: int
    overall_seconds: float | None
    by_slot: dict[tuple[int, int], float] = field(default_factory=dict)
    samples: int = 0

    def at(self, weekday: int, interval: int) -> float | None:
        return self.by_slot.get((weekday, interval), self.overall_seconds)


def forecast_handle_times(
    handled: Iterable[HandledWork], *, interval_minutes: int, min_samples: int = 5
) -> HandleTimes:
    """The mean handle time per weekday and interval with `min_samples` or more, else the
    overall mean."""
    per_day = check_interval(interval_minutes)
    if min_samples < 1:
        raise _refuse("min_samples", f"must be 1 or more (got {min_samples})")
    counts: dict[tuple[int, int], int] = {}
    seconds: dict[tuple[int, int], float] = {}
    for work in handled:
        if not 0 <= work.weekday < 7 or not 0 <= work.interval < per_day:
            raise _refuse("handled", f"no interval {work.interval} on weekday {work.weekday}")
        slot = (work.weekday, work.interval)
        counts[slot] = counts.get(slot, 0) + work.count
        seconds[slot] = seconds.get(slot, 0.0) + work.seconds
    total = sum(counts.values())
    overall = sum(seconds.values()) / total if total else None
    by_slot = {s: seconds[s] / c for s, c in counts.items() if c >= min_samples}
    return HandleTimes(interval_minutes, overall, by_slot, total)
