"""Business calendars: when a client's clock runs, and how much open time lies between instants.

A calendar is either 24/7 (``always_open``) or a weekly pattern of open windows in the client's
local wall time (IANA zone), minus holidays. Durations are *real elapsed time* inside the open
windows: a 09:00-17:00 window is 8 hours even on a daylight-saving change day, and a
00:00-24:00 window on such a day is 23 or 25 hours.

Wall times that do not exist or are ambiguous on a DST change day resolve the way ``zoneinfo``
resolves them with ``fold=0``:

* an ambiguous time (fall back) means its first occurrence, e.g. 01:30 in New York on
  2026-11-01 is 01:30 EDT;
* a non-existent time (spring forward) is read with the offset in force before the change, e.g.
  02:30 in New York on 2026-03-08 is 02:30 EST, which is the instant 03:30 EDT.

Should that make two windows of one day overlap in real time, the overlap counts once.

All instants going in must be timezone-aware (naive ones raise ``ValueError``); all instants
coming out are UTC. Open windows are half-open: open at their start, closed at their end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["MAX_CLOSED_DAYS", "WEEKDAY_NAMES", "BusinessCalendar"]

#: Storage names of the weekdays, Monday first (index = ``date.weekday()``).
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: A calendar that stays closed this many local days in a row is treated as closed for good:
#: ``add`` raises, ``open_windows`` and ``between`` see no open time after it.
MAX_CLOSED_DAYS = 366 * 3

Window = tuple[time, time | None]

_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
_TIME_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEYS = frozenset({"timezone", "always_open", "hours", "holidays"})


@dataclass(frozen=True)
class BusinessCalendar:
    """When a client's SLA clock runs: 24/7, or weekly open windows in local time minus holidays.

    ``hours`` maps a weekday (0 = Monday .. 6 = Sunday) to its open windows in local wall time,
    sorted and non-overlapping; an end of ``None`` means midnight at the end of the day (24:00).
    Missing weekdays are closed. ``holidays`` are local dates closed all day. When
    ``always_open`` is true, ``hours`` and ``holidays`` are ignored.
    """

    timezone: str
    hours: Mapping[int, tuple[Window, ...]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    def __post_init__(self) -> None:
        """Validate every field; normalise ``hours`` to a read-only copy without closed days."""
        _zone(self.timezone)
        object.__setattr__(self, "hours", _validated_hours(self.hours))
        object.__setattr__(self, "holidays", _validated_holidays(self.holidays))
        if not isinstance(self.always_open, bool):
            raise ValueError(f"always_open: expected a bool, got {self.always_open!r}")

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def twenty_four_seven(cls) -> BusinessCalendar:
        """A calendar that is always open: durations are plain elapsed time."""
        return cls("UTC", {}, always_open=True)

    @classmethod
    def office_hours(
        cls,
        timezone: str,
        start: time = time(9),
        end: time = time(17),
        weekdays: Iterable[int] = range(5),
        holidays: Iterable[date] = (),
    ) -> BusinessCalendar:
        """One window ``start``-``end`` on each of ``weekdays`` (default Monday-Friday 09-17).

        An ``end`` of ``time(0)`` means midnight at the end of the day (24:00).
        """
        window: Window = (start, None if end == _MIDNIGHT else end)
        return cls(timezone, {day: (window,) for day in weekdays}, frozenset(holidays))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from its storage form (see ``to_dict``).

        Bad input raises ``ValueError`` whose message starts with the offending key, e.g.
        ``hours.mon[0]: end 08:00 is not after start 09:00``. Unknown keys are refused; a
        weekday missing from ``hours`` is closed; ``hours`` may be left out only when
        ``always_open`` is true.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"calendar: expected an object, got {type(data).__name__}")
        for key in data:
            if key not in _KEYS:
                raise ValueError(f"{key}: unknown key (expected one of {', '.join(sorted(_KEYS))})")

        if "timezone" not in data:
            raise ValueError("timezone: missing")
        timezone = data["timezone"]
        if not isinstance(timezone, str):
            raise ValueError(f"timezone: expected a string, got {timezone!r}")

        always_open = data.get("always_open", False)
        if not isinstance(always_open, bool):
            raise ValueError(f"always_open: expected true or false, got {always_open!r}")

        if "hours" not in data and not always_open:
            raise ValueError("hours: missing (required unless always_open is true)")
        hours = _parse_hours(data.get("hours", {}))
        holidays = _parse_holidays(data.get("holidays", []))
        return cls(timezone, hours, holidays, always_open)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready storage form; ``from_dict(cal.to_dict()) == cal``."""
        return {
            "timezone": self.timezone,
            "always_open": self.always_open,
            "hours": {
                name: [
                    [_format_time(start), "24:00" if end is None else _format_time(end)]
                    for start, end in self.hours.get(day, ())
                ]
                for day, name in enumerate(WEEKDAY_NAMES)
            },
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
        }

    # --- queries ------------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """Whether the clock runs at this instant (windows include their start, not their end)."""
        at = _utc(instant, "instant")
        if self.always_open:
            return True
        first = next(self._windows_from(at), None)
        return first is not None and first[0] == at

    def open_windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals (UTC, in order, non-overlapping) clipped to ``[start, end)``."""
        lo, hi = _utc(start, "start"), _utc(end, "end")
        if hi <= lo:
            return
        if self.always_open:
            yield lo, hi
            return
        for window_start, window_end in self._windows_from(lo):
            if window_start >= hi:
                return
            yield window_start, min(window_end, hi)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant (UTC) at which ``duration`` of open time has elapsed since ``start``.

        If ``start`` falls outside the open windows the clock starts at the next opening. A
        duration that uses up a window exactly ends at that window's close (not at the next
        opening). A zero duration returns ``start`` unchanged (in UTC), open or not. A
        negative duration, or a calendar closed for more than ``MAX_CLOSED_DAYS`` days in a
        row before the duration is used up, raises ``ValueError``.
        """
        at = _utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if self.always_open or not duration:
            return at + duration
        remaining = duration
        for window_start, window_end in self._windows_from(at):
            length = window_end - window_start
            if remaining <= length:
                return window_start + remaining
            remaining -= length
        raise ValueError(
            f"the calendar has no open time within {MAX_CLOSED_DAYS} days "
            f"(still {remaining} to go after {at.isoformat()})"
        )

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time elapsed in ``[start, end)``; ``timedelta(0)`` when ``end <= start``."""
        total = timedelta(0)
        for window_start, window_end in self.open_windows(start, end):
            total += window_end - window_start
        return total

    # --- internals ----------------------------------------------------------------------------

    def _windows_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open windows (UTC) from ``at`` on, the first one clipped to start no earlier than ``at``.

        Walks local dates one by one (starting the day before ``at``'s local date, in case a
        window of that day runs into it), skipping holidays. Each window is clipped to begin
        no earlier than the previous one ended, so DST oddities never yield overlaps. Stops
        after ``MAX_CLOSED_DAYS`` local days without any open time, or at the end of the
        representable dates.
        """
        if not self.hours:
            return
        zone = _zone(self.timezone)
        day = at.astimezone(zone).date() - _ONE_DAY
        last_end = at
        closed_days = 0
        last_day = date.max - timedelta(days=2)
        while closed_days <= MAX_CLOSED_DAYS and day < last_day:
            found = False
            if day not in self.holidays:
                for start, end in self.hours.get(day.weekday(), ()):
                    window_start = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
                    local_end = (
                        datetime.combine(day + _ONE_DAY, _MIDNIGHT, tzinfo=zone)
                        if end is None
                        else datetime.combine(day, end, tzinfo=zone)
                    )
                    window_end = local_end.astimezone(UTC)
                    window_start = max(window_start, last_end)
                    if window_end > window_start:
                        yield window_start, window_end
                        last_end = window_end
                        found = True
            closed_days = 0 if found else closed_days + 1
            day += _ONE_DAY


# --- validation and parsing helpers -----------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name; ``ValueError`` naming it when unknown."""
    if not isinstance(name, str):
        raise ValueError(f"timezone: expected an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ValueError(f"timezone: unknown time zone {name!r}") from None


def _utc(instant: datetime, what: str) -> datetime:
    """``instant`` converted to UTC; naive datetimes are refused."""
    if not isinstance(instant, datetime):
        raise ValueError(f"{what} must be a datetime, got {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


def _format_time(value: time) -> str:
    """``HH:MM``, or ``HH:MM:SS`` when there are seconds."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _check_time(value: object, label: str, what: str) -> time:
    """A naive wall-clock time in whole seconds, or ``ValueError``."""
    if not isinstance(value, time):
        raise ValueError(f"{label}: {what} must be a time, got {value!r}")
    if value.tzinfo is not None:
        raise ValueError(f"{label}: {what} {value} must be a wall-clock time without tzinfo")
    if value.microsecond:
        raise ValueError(f"{label}: {what} {value} must be in whole seconds")
    return value


def _validated_hours(hours: object) -> Mapping[int, tuple[Window, ...]]:
    """Check the weekly windows; return a read-only copy keeping only days with windows."""
    if not isinstance(hours, Mapping):
        raise ValueError(f"hours: expected a mapping of weekday to windows, got {hours!r}")
    result: dict[int, tuple[Window, ...]] = {}
    for day in hours:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"hours[{day!r}]: weekday must be an int 0 (Monday) .. 6 (Sunday)")
        windows = hours[day]
        name = f"hours.{WEEKDAY_NAMES[day]}"
        if not isinstance(windows, tuple | list):
            raise ValueError(f"{name}: expected a sequence of (start, end) pairs")
        checked: list[Window] = []
        previous_end: time | None = None
        for index, window in enumerate(windows):
            label = f"{name}[{index}]"
            if not isinstance(window, tuple | list) or len(window) != 2:
                raise ValueError(f"{label}: expected a (start, end) pair, got {window!r}")
            start = _check_time(window[0], label, "start")
            end = None if window[1] is None else _check_time(window[1], label, "end")
            if end is not None and end <= start:
                hint = " (use None / 24:00 for midnight)" if end == _MIDNIGHT else ""
                raise ValueError(
                    f"{label}: end {_format_time(end)} is not after start {_format_time(start)}"
                    f"{hint}"
                )
            if checked and (previous_end is None or start < previous_end):
                ends = "24:00" if previous_end is None else _format_time(previous_end)
                raise ValueError(
                    f"{label}: start {_format_time(start)} is before the end {ends} of the "
                    f"previous window (windows must be sorted and must not overlap)"
                )
            checked.append((start, end))
            previous_end = end
        if checked:
            result[day] = tuple(checked)
    return MappingProxyType(dict(sorted(result.items())))


def _validated_holidays(holidays: object) -> frozenset[date]:
    """Check that every holiday is a date (not a datetime)."""
    if not isinstance(holidays, Iterable) or isinstance(holidays, str | bytes):
        raise ValueError(f"holidays: expected a set of dates, got {holidays!r}")
    days = frozenset(holidays)
    for day in days:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"holidays: not a date: {day!r}")
    return days


def _parse_time(text: object, label: str, what: str) -> time | None:
    """``HH:MM`` or ``HH:MM:SS`` to a time; ``24:00`` to ``None`` (midnight ending the day)."""
    match = _TIME_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{label}: {what} is not a time 'HH:MM': {text!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if (hour, minute, second) == (24, 0, 0):
        return None
    try:
        return time(hour, minute, second)
    except ValueError:
        raise ValueError(f"{label}: {what} is not a time 'HH:MM': {text!r}") from None


def _parse_hours(raw: object) -> dict[int, tuple[Window, ...]]:
    """The ``hours`` storage object (weekday name -> list of [start, end]) to weekday windows."""
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"hours: expected an object mapping {', '.join(WEEKDAY_NAMES)} to windows, got {raw!r}"
        )
    hours: dict[int, tuple[Window, ...]] = {}
    for name, windows in raw.items():
        if name not in WEEKDAY_NAMES:
            raise ValueError(
                f"hours.{name}: unknown weekday (expected one of {', '.join(WEEKDAY_NAMES)})"
            )
        if not isinstance(windows, list | tuple):
            raise ValueError(
                f"hours.{name}: expected a list of [start, end] pairs, got {windows!r}"
            )
        parsed: list[Window] = []
        for index, window in enumerate(windows):
            label = f"hours.{name}[{index}]"
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise ValueError(f"{label}: expected a [start, end] pair, got {window!r}")
            start = _parse_time(window[0], label, "start")
            if start is None:
                raise ValueError(f"{label}: start cannot be 24:00")
            parsed.append((start, _parse_time(window[1], label, "end")))
        hours[WEEKDAY_NAMES.index(name)] = tuple(parsed)
    return hours


def _parse_holidays(raw: object) -> frozenset[date]:
    """The ``holidays`` storage list of ``YYYY-MM-DD`` strings to dates."""
    if not isinstance(raw, list | tuple):
        raise ValueError(f"holidays: expected a list of 'YYYY-MM-DD' strings, got {raw!r}")
    days: set[date] = set()
    for index, text in enumerate(raw):
        try:
            if not isinstance(text, str) or not _DATE_RE.fullmatch(text):
                raise ValueError
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"holidays[{index}]: not a date: {text!r}") from None
    return frozenset(days)
