"""The Curtois-Qu shift scheduling benchmark's text format, read into plain data.

A file has seven sections in this order, each a `SECTION_...` line followed by comma-separated
rows; `#` starts a comment line and blank lines are ignored:

- `SECTION_HORIZON`: the number of days (the first day is a Monday);
- `SECTION_SHIFTS`: `ID, minutes, shifts that cannot follow it (| separated)`;
- `SECTION_STAFF`: `ID, max shifts per type (T=n|U=m), max total minutes, min total minutes,
  max consecutive shifts, min consecutive shifts, min consecutive days off, max weekends`;
- `SECTION_DAYS_OFF`: `staff ID, day, day, ...` (days the person may not work);
- `SECTION_SHIFT_ON_REQUESTS` / `SECTION_SHIFT_OFF_REQUESTS`: `staff ID, day, shift, weight`;
- `SECTION_COVER`: `day, shift, requirement, weight per person under, weight per person over`.

A malformed file raises `InvalidInput` whose field names the section and the line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tandem.core.errors import InvalidInput

SECTIONS = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)


@dataclass(frozen=True)
class ShiftType:
    id: str
    minutes: int
    cannot_follow: frozenset[str]  # shift types that may not be worked the next day


@dataclass(frozen=True)
class StaffMember:
    id: str
    max_shifts: dict[str, int]  # per shift type; a type not listed: no limit
    max_minutes: int
    min_minutes: int
    max_consecutive_shifts: int
    min_consecutive_shifts: int
    min_consecutive_days_off: int
    max_weekends: int
    days_off: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Request:
    """A wish to work (on) or not to work (off) a shift on a day; its weight if not granted."""

    staff: str
    day: int
    shift: str
    weight: int


@dataclass(frozen=True)
class Cover:
    day: int
    shift: str
    requirement: int
    under_weight: int
    over_weight: int


@dataclass(frozen=True)
class Instance:
    name: str
    days: int
    shifts: tuple[ShiftType, ...]
    staff: tuple[StaffMember, ...]
    on_requests: tuple[Request, ...]
    off_requests: tuple[Request, ...]
    cover: tuple[Cover, ...]

    @property
    def weekends(self) -> int:
        return self.days // 7

    def shift(self, shift_id: str) -> ShiftType:
        return next(s for s in self.shifts if s.id == shift_id)


# A schedule: per staff member (in the instance's order), per day, the shift's ID or None.
Schedule = tuple[tuple[str | None, ...], ...]

T = TypeVar("T")


def load(path: Path | str) -> Instance:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), name=path.stem)


def parse(text: str, *, name: str = "instance") -> Instance:
    rows = dict(_sections(text))
    for section in SECTIONS:
        if section not in rows:
            raise _error(section, None, f"the file has no {section}")

    horizon = rows["SECTION_HORIZON"]
    if len(horizon) != 1:
        raise _error("SECTION_HORIZON", horizon[0][0] if horizon else None, "one number expected")
    line, text_row = horizon[0]
    days = _number(text_row, "SECTION_HORIZON", line, "the number of days")
    if days < 1:
        raise _error("SECTION_HORIZON", line, "the horizon needs at least one day")

    shifts: list[ShiftType] = []
    shift_lines: dict[str, int] = {}
    for line, row in rows["SECTION_SHIFTS"]:
        parts = _fields(row, "SECTION_SHIFTS", line, 2, 3)
        shift_id = parts[0]
        if not shift_id or shift_id in shift_lines:
            raise _error("SECTION_SHIFTS", line, f"shift ID {shift_id!r} is empty or repeated")
        minutes = _number(parts[1], "SECTION_SHIFTS", line, "the length in minutes")
        follow = frozenset(p for p in (parts[2] if len(parts) > 2 else "").split("|") if p)
        shifts.append(ShiftType(shift_id, minutes, follow))
        shift_lines[shift_id] = line
    if not shifts:
        raise _error("SECTION_SHIFTS", None, "no shift types")
    for shift in shifts:
        unknown = shift.cannot_follow - shift_lines.keys()
        if unknown:
            raise _error(
                "SECTION_SHIFTS", shift_lines[shift.id], f"unknown shift {sorted(unknown)[0]!r}"
            )

    def known_shift(value: str, section: str, line: int) -> str:
        if value not in shift_lines:
            raise _error(section, line, f"unknown shift {value!r}")
        return value

    def known_day(value: str, section: str, line: int) -> int:
        number = _number(value, section, line, "the day")
        if not 0 <= number < days:
            raise _error(section, line, f"day {number} is outside the horizon 0..{days - 1}")
        return number

    staff: list[StaffMember] = []
    staff_ids: set[str] = set()
    for line, row in rows["SECTION_STAFF"]:
        section = "SECTION_STAFF"
        parts = _fields(row, section, line, 8, 8)
        if not parts[0] or parts[0] in staff_ids:
            raise _error(section, line, f"staff ID {parts[0]!r} is empty or repeated")
        max_shifts: dict[str, int] = {}
        for pair in (p for p in parts[1].split("|") if p):
            key, sep, value = pair.partition("=")
            if not sep:
                raise _error(section, line, f"max shifts {pair!r} is not SHIFT=NUMBER")
            max_shifts[known_shift(key, section, line)] = _number(
                value, section, line, "max shifts"
            )
        numbers = [_number(v, section, line, "a limit") for v in parts[2:]]
        staff.append(StaffMember(parts[0], max_shifts, *numbers))  # type: ignore[arg-type]
        staff_ids.add(parts[0])
    if not staff:
        raise _error("SECTION_STAFF", None, "no staff")

    def known_staff(value: str, section: str, line: int) -> str:
        if value not in staff_ids:
            raise _error(section, line, f"unknown staff member {value!r}")
        return value

    days_off: dict[str, set[int]] = {}
    for line, row in rows["SECTION_DAYS_OFF"]:
        parts = _fields(row, "SECTION_DAYS_OFF", line, 1, None)
        who = known_staff(parts[0], "SECTION_DAYS_OFF", line)
        days_off.setdefault(who, set()).update(
            known_day(v, "SECTION_DAYS_OFF", line) for v in parts[1:] if v
        )
    staff = [
        StaffMember(**{**s.__dict__, "days_off": frozenset(days_off.get(s.id, ()))}) for s in staff
    ]

    def requests(section: str) -> tuple[Request, ...]:
        found = []
        for line, row in rows[section]:
            parts = _fields(row, section, line, 4, 4)
            found.append(
                Request(
                    known_staff(parts[0], section, line),
                    known_day(parts[1], section, line),
                    known_shift(parts[2], section, line),
                    _number(parts[3], section, line, "the weight"),
                )
            )
        return tuple(found)

    cover: list[Cover] = []
    seen: set[tuple[int, str]] = set()
    for line, row in rows["SECTION_COVER"]:
        section = "SECTION_COVER"
        parts = _fields(row, section, line, 5, 5)
        slot = (known_day(parts[0], section, line), known_shift(parts[1], section, line))
        if slot in seen:
            raise _error(section, line, f"cover for day {slot[0]} shift {slot[1]} is repeated")
        seen.add(slot)
        numbers = [_number(v, section, line, "a cover figure") for v in parts[2:]]
        cover.append(Cover(slot[0], slot[1], numbers[0], numbers[1], numbers[2]))

    return Instance(
        name=name,
        days=days,
        shifts=tuple(shifts),
        staff=tuple(staff),
        on_requests=requests("SECTION_SHIFT_ON_REQUESTS"),
        off_requests=requests("SECTION_SHIFT_OFF_REQUESTS"),
        cover=tuple(cover),
    )


def _sections(text: str) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Each section's name with its rows (line number, text), in the file's order."""
    current: str | None = None
    rows: list[tuple[int, str]] = []
    seen: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            if line not in SECTIONS:
                raise _error(line, number, "unknown section")
            if line in seen:
                raise _error(line, number, "the section is repeated")
            if current is not None:
                yield current, rows
            current, rows = line, []
            seen.append(line)
        elif current is None:
            raise _error("(before any section)", number, "a row outside any section")
        else:
            rows.append((number, line))
    if current is not None:
        yield current, rows


def _fields(row: str, section: str, line: int, least: int, most: int | None) -> list[str]:
    parts = [p.strip() for p in row.split(",")]
    if len(parts) < least or (most is not None and len(parts) > most):
        wanted = str(least) if least == most else f"{least} to {most or 'any'}"
        raise _error(section, line, f"{len(parts)} fields, {wanted} expected")
    return parts


def _number(value: str, section: str, line: int, what: str) -> int:
    return _convert(int, value.strip(), section, line, what)


def _convert(kind: Callable[[str], T], value: str, section: str, line: int, what: str) -> T:
    try:
        return kind(value)
    except ValueError:
        raise _error(section, line, f"{what} {value!r} is not a whole number") from None


def _error(section: str, line: int | None, message: str) -> InvalidInput:
    where = section if line is None else f"{section}, line {line}"
    return InvalidInput(f"{where}: {message}", errors=[{"field": where, "message": message}])
