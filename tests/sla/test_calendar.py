"""Business calendars: open time in the client's zone, DST, holidays, storage form."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tandem.sla.calendar import MAX_CLOSED_DAYS, BusinessCalendar

WAW = ZoneInfo("Europe/Warsaw")
NYC = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def waw(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=WAW)


def nyc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=NYC)


def every_day(*windows: tuple[time, time | None], tz: str = "America/New_York") -> BusinessCalendar:
    return BusinessCalendar(tz, {day: windows for day in range(7)})


@pytest.fixture
def warsaw() -> BusinessCalendar:
    return BusinessCalendar.office_hours("Europe/Warsaw")


@pytest.fixture
def new_york() -> BusinessCalendar:
    return BusinessCalendar.office_hours("America/New_York")


# --- 24/7 ------------------------------------------------------------------------------------


def test_24_7_add_is_plain_addition_and_returns_utc() -> None:
    cal = BusinessCalendar.twenty_four_seven()
    start = nyc(2026, 3, 7, 22, 0)  # 03:00 UTC on the 8th, the night of the spring forward
    due = cal.add(start, 5 * H)
    assert due == utc(2026, 3, 8, 8, 0)
    assert due.tzinfo is UTC
    assert cal.add(start, timedelta(days=30)) == utc(2026, 4, 7, 3, 0)
    assert cal.between(start, due) == 5 * H
    assert cal.between(due, start) == timedelta(0)
    assert cal.is_open(start)
    assert list(cal.open_windows(start, due)) == [(utc(2026, 3, 8, 3), utc(2026, 3, 8, 8))]
    assert cal.timezone == "UTC" and cal.always_open


# --- office hours ----------------------------------------------------------------------------


def test_arrival_inside_hours(warsaw: BusinessCalendar) -> None:
    # Tuesday 10:00 CEST + 3h -> 13:00 CEST
    assert warsaw.add(waw(2026, 6, 2, 10, 0), 3 * H) == utc(2026, 6, 2, 11, 0)
    # Tuesday 15:00 + 4h: 2h today, 2h from Wednesday 09:00 -> Wednesday 11:00 CEST
    assert warsaw.add(waw(2026, 6, 2, 15, 0), 4 * H) == utc(2026, 6, 3, 9, 0)


def test_arrival_before_opening_starts_the_clock_at_opening(warsaw: BusinessCalendar) -> None:
    assert warsaw.add(waw(2026, 6, 2, 7, 30), 2 * H) == utc(2026, 6, 2, 9, 0)  # 11:00 CEST
    assert warsaw.between(waw(2026, 6, 2, 7, 30), waw(2026, 6, 2, 11, 0)) == 2 * H


def test_arrival_after_friday_close_rolls_over_the_weekend(warsaw: BusinessCalendar) -> None:
    # Friday 18:00 CEST + 1h -> Monday 10:00 CEST
    assert warsaw.add(waw(2026, 6, 5, 18, 0), H) == utc(2026, 6, 8, 8, 0)
    # Saturday arrival too
    assert warsaw.add(waw(2026, 6, 6, 12, 0), H) == utc(2026, 6, 8, 8, 0)
    assert warsaw.between(waw(2026, 6, 5, 18, 0), waw(2026, 6, 8, 9, 0)) == timedelta(0)


def test_using_up_a_window_exactly_ends_at_its_close(warsaw: BusinessCalendar) -> None:
    assert warsaw.add(waw(2026, 6, 2, 9, 0), 8 * H) == utc(2026, 6, 2, 15, 0)  # 17:00 CEST
    assert warsaw.add(waw(2026, 6, 5, 9, 0), 8 * H) == utc(2026, 6, 5, 15, 0)  # Friday 17:00


def test_windows_are_half_open(warsaw: BusinessCalendar) -> None:
    assert warsaw.is_open(waw(2026, 6, 2, 9, 0))
    assert warsaw.is_open(waw(2026, 6, 2, 16, 59, 59))
    assert not warsaw.is_open(waw(2026, 6, 2, 17, 0))
    assert not warsaw.is_open(waw(2026, 6, 2, 8, 59, 59))
    assert not warsaw.is_open(waw(2026, 6, 6, 12, 0))  # Saturday


def test_polish_holiday_is_skipped() -> None:
    # 2026-11-11 (Wednesday), Independence Day in Poland
    cal = BusinessCalendar.office_hours("Europe/Warsaw", holidays=[date(2026, 11, 11)])
    # Tuesday 16:00 CET + 2h: 1h Tuesday, Wednesday closed, Thursday 09:00 + 1h = 10:00 CET
    assert cal.add(waw(2026, 11, 10, 16, 0), 2 * H) == utc(2026, 11, 12, 9, 0)
    assert not cal.is_open(waw(2026, 11, 11, 12, 0))
    assert cal.between(waw(2026, 11, 10, 0, 0), waw(2026, 11, 13, 0, 0)) == 16 * H


def test_us_holiday_before_a_weekend_is_skipped() -> None:
    # 2026-07-03 (Friday), Independence Day observed
    cal = BusinessCalendar.office_hours("America/New_York", holidays=[date(2026, 7, 3)])
    # Thursday 16:00 EDT + 4h: 1h Thursday, Friday holiday, weekend, Monday 09:00 + 3h
    assert cal.add(nyc(2026, 7, 2, 16, 0), 4 * H) == utc(2026, 7, 6, 16, 0)  # 12:00 EDT


def test_open_windows_are_clipped_utc_intervals(warsaw: BusinessCalendar) -> None:
    windows = list(warsaw.open_windows(waw(2026, 6, 5, 15, 0), waw(2026, 6, 9, 10, 0)))
    assert windows == [
        (utc(2026, 6, 5, 13), utc(2026, 6, 5, 15)),  # Friday 15:00-17:00 CEST
        (utc(2026, 6, 8, 7), utc(2026, 6, 8, 15)),  # Monday 09:00-17:00
        (utc(2026, 6, 9, 7), utc(2026, 6, 9, 8)),  # Tuesday 09:00-10:00
    ]
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in windows)
    assert list(warsaw.open_windows(waw(2026, 6, 9), waw(2026, 6, 8))) == []


def test_split_windows_and_midnight_end() -> None:
    cal = BusinessCalendar(
        "Europe/Warsaw",
        {0: ((time(8), time(12)), (time(13), time(17))), 1: ((time(22), None),)},
    )
    # Monday 11:00 + 3h: 1h until 12:00, lunch, 13:00 + 2h = 15:00 CEST
    assert cal.add(waw(2026, 6, 1, 11, 0), 3 * H) == utc(2026, 6, 1, 13, 0)
    # Monday 16:00 + 2h: 1h Monday, Tuesday 22:00 + 1h = 23:00 CEST
    assert cal.add(waw(2026, 6, 1, 16, 0), 2 * H) == utc(2026, 6, 2, 21, 0)
    # the 22:00-24:00 window runs to midnight: 2h, closing at Wednesday 00:00 CEST
    assert cal.add(waw(2026, 6, 2, 22, 0), 2 * H) == utc(2026, 6, 2, 22, 0)
    assert not cal.is_open(waw(2026, 6, 3, 0, 0))
    assert cal.is_open(waw(2026, 6, 2, 23, 59, 59))


# --- daylight saving time --------------------------------------------------------------------


def test_8h_sla_over_the_spring_forward_weekend(new_york: BusinessCalendar) -> None:
    # Friday 2026-03-06 16:00 EST: 1h on Friday; DST starts Sunday 03-08; Monday 09:00 EDT + 7h.
    due = new_york.add(nyc(2026, 3, 6, 16, 0), 8 * H)
    assert due == utc(2026, 3, 9, 20, 0)
    assert due.astimezone(NYC) == nyc(2026, 3, 9, 16, 0)
    assert new_york.between(nyc(2026, 3, 6, 16, 0), due) == 8 * H


def test_8h_sla_over_the_fall_back_weekend(new_york: BusinessCalendar) -> None:
    # Friday 2026-10-30 16:00 EDT: 1h on Friday; DST ends Sunday 11-01; Monday 09:00 EST + 7h.
    due = new_york.add(nyc(2026, 10, 30, 16, 0), 8 * H)
    assert due == utc(2026, 11, 2, 21, 0)
    assert due.astimezone(NYC) == nyc(2026, 11, 2, 16, 0)


def test_office_window_on_a_dst_day_is_still_8_hours() -> None:
    sundays = BusinessCalendar.office_hours("America/New_York", weekdays=[6])
    for day in (date(2026, 3, 8), date(2026, 11, 1)):
        midnight = datetime.combine(day, time(0), tzinfo=NYC)
        assert sundays.between(midnight, midnight + 48 * H) == 8 * H
    # spring forward: 09:00 EDT = 13:00 UTC, + 8h = 17:00 EDT
    assert sundays.add(nyc(2026, 3, 8, 9, 0), 8 * H) == utc(2026, 3, 8, 21, 0)
    # fall back: 09:00 EST = 14:00 UTC, + 8h = 17:00 EST
    assert sundays.add(nyc(2026, 11, 1, 9, 0), 8 * H) == utc(2026, 11, 1, 22, 0)


def test_whole_day_window_has_23_and_25_hours_on_dst_days() -> None:
    cal = every_day((time(0), None))
    assert cal.between(nyc(2026, 3, 8), nyc(2026, 3, 9)) == 23 * H
    assert cal.between(nyc(2026, 11, 1), nyc(2026, 11, 2)) == 25 * H
    assert cal.between(nyc(2026, 3, 9), nyc(2026, 3, 10)) == 24 * H
    # the clock never stops: 23h from midnight EST on 03-08 is midnight EDT on 03-09
    assert cal.add(nyc(2026, 3, 8), 23 * H) == utc(2026, 3, 9, 4, 0)
    assert cal.add(nyc(2026, 11, 1), 25 * H) == utc(2026, 11, 2, 5, 0)
    assert list(cal.open_windows(nyc(2026, 3, 8), nyc(2026, 3, 8, 12))) == [
        (utc(2026, 3, 8, 5), utc(2026, 3, 8, 16))
    ]
    # an office-hours style calendar with 00:00-24:00 spelled as end time(0)
    same = BusinessCalendar.office_hours(
        "America/New_York", start=time(0), end=time(0), weekdays=range(7)
    )
    assert same == cal


def test_window_across_the_spring_forward_gap_counts_real_time() -> None:
    # 01:00 EST (06:00 UTC) .. 03:00 EDT (07:00 UTC): one real hour
    cal = every_day((time(1), time(3)))
    assert cal.between(nyc(2026, 3, 8), nyc(2026, 3, 9)) == H
    assert cal.between(nyc(2026, 3, 9), nyc(2026, 3, 10)) == 2 * H


def test_nonexistent_wall_time_resolves_with_the_offset_before_the_change() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; fold=0 reads it as 02:30 EST = 07:30 UTC
    cal = every_day((time(2, 30), time(4)))
    assert list(cal.open_windows(nyc(2026, 3, 8), nyc(2026, 3, 9))) == [
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 0))
    ]


def test_windows_made_to_overlap_by_the_gap_count_once() -> None:
    # 01:00-02:30 ends at 07:30 UTC, 03:00-05:00 starts at 07:00 UTC: the overlap counts once
    cal = every_day((time(1), time(2, 30)), (time(3), time(5)))
    windows = list(cal.open_windows(nyc(2026, 3, 8), nyc(2026, 3, 9)))
    assert windows == [
        (utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 30)),
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 9, 0)),
    ]
    assert cal.between(nyc(2026, 3, 8), nyc(2026, 3, 9)) == 3 * H


def test_ambiguous_wall_time_means_its_first_occurrence() -> None:
    # 01:00-01:30 on 2026-11-01 happens twice in New York; the window is the EDT one
    cal = every_day((time(1), time(1, 30)))
    assert list(cal.open_windows(nyc(2026, 11, 1), nyc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30))
    ]
    assert cal.is_open(utc(2026, 11, 1, 5, 15))
    assert not cal.is_open(utc(2026, 11, 1, 6, 15))  # 01:15 EST, the second time round


# --- add() details ---------------------------------------------------------------------------


def test_zero_duration_returns_start_unchanged(warsaw: BusinessCalendar) -> None:
    closed = waw(2026, 6, 6, 12, 0)  # Saturday
    assert warsaw.add(closed, timedelta(0)) == closed
    assert warsaw.add(closed, timedelta(0)).tzinfo is UTC
    assert warsaw.add(waw(2026, 6, 2, 10), timedelta(0)) == utc(2026, 6, 2, 8)


def test_negative_duration_is_refused(warsaw: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        warsaw.add(waw(2026, 6, 2, 10), -H)


def test_30_business_days_in_one_go(warsaw: BusinessCalendar) -> None:
    # Monday 2026-06-01 09:00 + 30 x 8h -> Friday 2026-07-10 17:00 CEST
    assert warsaw.add(waw(2026, 6, 1, 9), 30 * 8 * H) == utc(2026, 7, 10, 15, 0)
    assert warsaw.between(waw(2026, 6, 1, 9), waw(2026, 7, 10, 17)) == 240 * H


def test_very_long_durations_loop_per_window_not_per_minute(
    warsaw: BusinessCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = BusinessCalendar._windows_from
    steps: list[tuple[datetime, datetime]] = []

    def counted(cal: BusinessCalendar, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        for window in walk(cal, at):
            steps.append(window)
            yield window

    monkeypatch.setattr(BusinessCalendar, "_windows_from", counted)
    # 2000 business days = 400 weeks: ends on the Friday of the 400th week at 17:00 local
    due = warsaw.add(waw(2026, 6, 1, 9), 2000 * 8 * H)
    friday = date(2026, 6, 1) + timedelta(weeks=399, days=4)
    assert due == datetime.combine(friday, time(17), tzinfo=WAW)
    # One step per open window (one a working day), not per minute or hour of the duration.
    assert len(steps) == 2000
    assert steps[-1] == (
        datetime.combine(friday, time(9), tzinfo=WAW).astimezone(UTC),
        datetime.combine(friday, time(17), tzinfo=WAW).astimezone(UTC),
    )


def test_calendar_without_hours_never_opens() -> None:
    cal = BusinessCalendar("Europe/Warsaw", {})
    start = waw(2026, 6, 1, 9)
    with pytest.raises(ValueError, match=f"no open time within {MAX_CLOSED_DAYS} days"):
        cal.add(start, H)
    assert cal.add(start, timedelta(0)) == start
    assert cal.between(start, start + timedelta(days=365)) == timedelta(0)
    assert list(cal.open_windows(start, start + timedelta(days=365))) == []
    assert not cal.is_open(start)
    with pytest.raises(ValueError, match="no open time"):
        BusinessCalendar.from_dict({"timezone": "UTC", "hours": {}}).add(start, H)


def test_closed_for_more_than_three_years_counts_as_closed_for_good() -> None:
    mondays = [date(2026, 6, 1) + timedelta(weeks=n) for n in range(200)]  # ~3.8 years
    cal = BusinessCalendar.office_hours("Europe/Warsaw", weekdays=[0], holidays=mondays)
    with pytest.raises(ValueError, match="no open time"):
        cal.add(waw(2026, 6, 1, 9), H)
    shorter = BusinessCalendar.office_hours("Europe/Warsaw", weekdays=[0], holidays=mondays[:150])
    reopening = date(2026, 6, 1) + timedelta(weeks=150)
    assert shorter.add(waw(2026, 6, 1, 9), H) == datetime.combine(reopening, time(10), tzinfo=WAW)


# --- consistency properties ------------------------------------------------------------------

PROPERTY_CALENDARS = [
    BusinessCalendar.office_hours(
        "Europe/Warsaw", holidays=[date(2026, 11, 11), date(2026, 12, 24), date(2026, 12, 25)]
    ),
    BusinessCalendar(
        "America/New_York",
        {
            0: ((time(8), time(12)), (time(13), time(17, 30))),
            1: ((time(8), time(12)), (time(13), time(17, 30))),
            2: ((time(8), time(12)), (time(13), time(17, 30))),
            3: ((time(8), time(12)), (time(13), time(17, 30))),
            4: ((time(8), time(12)), (time(13), time(17, 30))),
            5: ((time(10), time(14)),),
            6: ((time(0), None),),
        },
        frozenset({date(2026, 7, 3), date(2026, 11, 26)}),
    ),
    # windows straddling the DST gap and fold, and running into midnight
    every_day(
        (time(0), time(0, 30)),
        (time(1), time(2, 30)),
        (time(3), time(5)),
        (time(22), None),
    ),
    # Santiago changes its clocks at midnight
    every_day((time(0), time(6)), (time(20), None), tz="America/Santiago"),
    # Lord Howe Island shifts by 30 minutes
    every_day((time(1), time(2, 15)), (time(9, 45), time(17)), tz="Australia/Lord_Howe"),
]
ZONES = [UTC, WAW, NYC, ZoneInfo("Asia/Kolkata")]


def random_instant(rng: random.Random) -> datetime:
    seconds = rng.randrange(0, 2 * 366 * 86400)
    instant = utc(2026, 1, 1) + timedelta(seconds=seconds, microseconds=rng.randrange(10**6))
    return instant.astimezone(rng.choice(ZONES))


def random_duration(rng: random.Random) -> timedelta:
    if rng.random() < 0.05:
        return timedelta(0)
    return timedelta(seconds=rng.randrange(1, 300 * 3600), microseconds=rng.randrange(10**6))


@pytest.mark.parametrize("cal", PROPERTY_CALENDARS, ids=lambda c: c.timezone)
def test_between_undoes_add(cal: BusinessCalendar) -> None:
    rng = random.Random(20260308)
    for _ in range(250):
        start, duration = random_instant(rng), random_duration(rng)
        due = cal.add(start, duration)
        assert due.tzinfo is UTC
        assert due >= start
        assert cal.between(start, due) == duration, (start, duration, due)
        if duration:
            # the clock was running right up to the due instant
            assert cal.is_open(due - timedelta(microseconds=1))


@pytest.mark.parametrize("cal", PROPERTY_CALENDARS, ids=lambda c: c.timezone)
def test_add_and_between_are_additive(cal: BusinessCalendar) -> None:
    rng = random.Random(1111)
    for _ in range(150):
        start = random_instant(rng)
        first, second = random_duration(rng), random_duration(rng)
        assert cal.add(cal.add(start, first), second) == cal.add(start, first + second)
        later = [start + timedelta(seconds=rng.randrange(60 * 86400)) for _ in range(2)]
        a, b, c = sorted([start, *later])
        assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)


@pytest.mark.parametrize("cal", PROPERTY_CALENDARS, ids=lambda c: c.timezone)
def test_is_open_agrees_with_open_windows(cal: BusinessCalendar) -> None:
    rng = random.Random(42)
    for _ in range(250):
        instant = random_instant(rng)
        windows = list(cal.open_windows(instant - 3 * 24 * H, instant + 3 * 24 * H))
        assert all(a < b for a, b in windows)
        assert all(b <= c for (_, b), (c, _) in itertools.pairwise(windows))
        inside = any(a <= instant < b for a, b in windows)
        assert cal.is_open(instant) == inside, instant


# --- validation ------------------------------------------------------------------------------


def test_naive_datetimes_are_refused(warsaw: BusinessCalendar) -> None:
    naive = datetime(2026, 6, 2, 10, 0)
    aware = waw(2026, 6, 2, 10, 0)
    for cal in (warsaw, BusinessCalendar.twenty_four_seven()):
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.add(naive, H)
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.is_open(naive)
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.between(naive, aware)
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.between(aware, naive)
        with pytest.raises(ValueError, match="timezone-aware"):
            list(cal.open_windows(aware, naive))


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America", "", "../etc/passwd", "CEST"])
def test_invalid_timezone_is_refused_with_its_name(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"timezone: unknown time zone {name!r}")):
        BusinessCalendar(name, {})
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        BusinessCalendar.office_hours(name)
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        BusinessCalendar.from_dict({"timezone": name, "hours": {}})


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({0: ((time(9), time(8)),)}, "hours.mon[0]: end 08:00 is not after start 09:00"),
        ({0: ((time(9), time(9)),)}, "hours.mon[0]: end 09:00 is not after start 09:00"),
        ({0: ((time(9), time(0)),)}, "use None / 24:00 for midnight"),
        (
            {2: ((time(9), time(12)), (time(11), time(17)))},
            "hours.wed[1]: start 11:00 is before the end 12:00 of the previous window",
        ),
        (
            {2: ((time(13), time(17)), (time(9), time(12)))},
            "hours.wed[1]: start 09:00 is before the end 17:00",
        ),
        (
            {6: ((time(20), None), (time(22), time(23)))},
            "hours.sun[1]: start 22:00 is before the end 24:00",
        ),
        ({7: ((time(9), time(17)),)}, "hours[7]: weekday must be an int"),
        ({0: ((time(9), time(17, tzinfo=UTC)),)}, "hours.mon[0]: end 17:00:00+00:00 must be"),
        ({0: ((time(9, 0, 0, 5), time(17)),)}, "hours.mon[0]: start 09:00:00.000005 must be in"),
        ({0: (("09:00", time(17)),)}, "hours.mon[0]: start must be a time, got '09:00'"),
    ],
)
def test_constructor_validates_hours(hours: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        BusinessCalendar("Europe/Warsaw", hours)


def test_constructor_validates_holidays() -> None:
    with pytest.raises(ValueError, match=r"holidays: not a date"):
        BusinessCalendar("UTC", {}, frozenset({datetime(2026, 12, 25, tzinfo=UTC)}))


def test_adjacent_windows_are_allowed_and_closed_days_are_dropped() -> None:
    cal = BusinessCalendar(
        "UTC", {0: ((time(9), time(12)), (time(12), time(17))), 3: (), 6: ((time(22), None),)}
    )
    assert dict(cal.hours) == {
        0: ((time(9), time(12)), (time(12), time(17))),
        6: ((time(22), None),),
    }
    assert cal.add(utc(2026, 6, 1, 11), 2 * H) == utc(2026, 6, 1, 13)
    assert cal == BusinessCalendar(
        "UTC", {0: ((time(9), time(12)), (time(12), time(17))), 6: ((time(22), None),)}
    )


def test_calendar_is_immutable_and_hashable() -> None:
    hours = {0: ((time(9), time(17)),)}
    cal = BusinessCalendar("UTC", hours)
    hours[1] = ((time(9), time(17)),)  # the caller's dict is copied
    assert 1 not in cal.hours
    with pytest.raises(TypeError):
        cal.hours[1] = ()  # type: ignore[index]
    assert hash(cal) == hash(BusinessCalendar("UTC", {0: ((time(9), time(17)),)}))


# --- storage form ----------------------------------------------------------------------------

STORED: dict[str, Any] = {
    "timezone": "Europe/Warsaw",
    "always_open": False,
    "hours": {
        "mon": [["09:00", "17:00"]],
        "tue": [["08:00", "12:00"], ["13:00", "17:30"]],
        "wed": [["09:00", "17:00"]],
        "thu": [["09:00", "17:00"]],
        "fri": [["09:00", "15:45:30"]],
        "sat": [["22:00", "24:00"]],
        "sun": [],
    },
    "holidays": ["2026-11-11", "2026-12-25", "2026-12-26"],
}


def test_from_dict_reads_the_storage_form() -> None:
    cal = BusinessCalendar.from_dict(STORED)
    assert cal.timezone == "Europe/Warsaw"
    assert not cal.always_open
    assert cal.hours[1] == ((time(8), time(12)), (time(13), time(17, 30)))
    assert cal.hours[4] == ((time(9), time(15, 45, 30)),)
    assert cal.hours[5] == ((time(22), None),)
    assert 6 not in cal.hours
    assert cal.holidays == {date(2026, 11, 11), date(2026, 12, 25), date(2026, 12, 26)}


def test_to_dict_round_trips() -> None:
    cal = BusinessCalendar.from_dict(STORED)
    assert cal.to_dict() == STORED
    assert BusinessCalendar.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    for other in (
        BusinessCalendar.twenty_four_seven(),
        BusinessCalendar.office_hours("America/New_York", holidays=[date(2026, 7, 3)]),
        PROPERTY_CALENDARS[2],
    ):
        assert BusinessCalendar.from_dict(other.to_dict()) == other


def test_from_dict_defaults() -> None:
    cal = BusinessCalendar.from_dict({"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"]]}})
    assert cal == BusinessCalendar.office_hours("UTC", weekdays=[0])
    always = BusinessCalendar.from_dict({"timezone": "UTC", "always_open": True})
    assert always == BusinessCalendar.twenty_four_seven()


def _with(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(STORED))
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            data[outer][inner] = value
        elif value is None:
            del data[key]
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with(**{"hours.mon": [["09:00", "08:00"]]}),
            "hours.mon[0]: end 08:00 is not after start 09:00",
        ),
        (
            _with(holidays=["2026-11-11", "2026-12-25", "2026-13-01"]),
            "holidays[2]: not a date: '2026-13-01'",
        ),
        (_with(holidays=["20261225"]), "holidays[0]: not a date: '20261225'"),
        (_with(holidays=[20261225]), "holidays[0]: not a date: 20261225"),
        (_with(holidays="2026-12-25"), "holidays: expected a list"),
        (
            _with(**{"hours.tue": [["09:00", "12:00"], ["11:00", "17:00"]]}),
            "hours.tue[1]: start 11:00",
        ),
        (
            _with(**{"hours.wed": [["9am", "17:00"]]}),
            "hours.wed[0]: start is not a time 'HH:MM': '9am'",
        ),
        (_with(**{"hours.wed": [["09:00", "25:00"]]}), "hours.wed[0]: end is not a time"),
        (_with(**{"hours.wed": [["09:00", "24:30"]]}), "hours.wed[0]: end is not a time"),
        (_with(**{"hours.wed": [["09:00", "17:00Z"]]}), "hours.wed[0]: end is not a time"),
        (_with(**{"hours.wed": [["24:00", "24:00"]]}), "hours.wed[0]: start cannot be 24:00"),
        (_with(**{"hours.wed": [["09:00"]]}), "hours.wed[0]: expected a [start, end] pair"),
        (_with(**{"hours.wed": "09:00-17:00"}), "hours.wed: expected a list of [start, end] pairs"),
        (_with(**{"hours.monday": []}), "hours.monday: unknown weekday"),
        (_with(hours=[["09:00", "17:00"]]), "hours: expected an object"),
        (_with(hours=None), "hours: missing"),
        (_with(timezone=None), "timezone: missing"),
        (_with(timezone=1), "timezone: expected a string, got 1"),
        (_with(timezone="Europe/Warszawa"), "timezone: unknown time zone 'Europe/Warszawa'"),
        (_with(always_open="yes"), "always_open: expected true or false, got 'yes'"),
        (_with(holiday=["2026-12-25"]), "holiday: unknown key"),
    ],
)
def test_from_dict_errors_name_the_offending_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        BusinessCalendar.from_dict(data)


def test_from_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="calendar: expected an object"):
        BusinessCalendar.from_dict([])  # type: ignore[arg-type]
