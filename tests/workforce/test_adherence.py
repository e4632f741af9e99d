"""Adherence and conformance, pure: hand-checked minutes per interval and state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tandem.core.errors import InvalidInput
from tandem.reports.adherence import local_day
from tandem.workforce.adherence import (
    Actual,
    PresenceChange,
    Span,
    actual_spans,
    intervals,
    out_of_adherence,
    state_at,
    totals,
)

W, ID, B, S = Actual.WORKING, Actual.IDLE, Actual.BREAK, Actual.SIGNED_OUT


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 4, hour, minute, tzinfo=UTC)


def _shape(spans: list[Span]) -> list[tuple[str, str, Actual]]:
    return [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), s.state) for s in spans]


DAY = [
    PresenceChange(at(8, 50), "available", "sign_in"),
    PresenceChange(at(9, 20), "break", "console"),
    PresenceChange(at(9, 35), "available", "console"),
]
SESSIONS = [(at(8, 50), at(11))]
LEASES = [(at(9, 5), at(9, 12)), (at(9, 40), at(9, 50)), (at(10, 10), at(10, 20))]


def test_the_actual_timeline_from_presence_sessions_and_leases() -> None:
    spans = actual_spans(DAY, SESSIONS, LEASES, at(9), at(10, 30))
    assert _shape(spans) == [
        ("09:00", "09:05", ID),
        ("09:05", "09:12", W),
        ("09:12", "09:20", ID),
        ("09:20", "09:35", B),
        ("09:35", "09:40", ID),
        ("09:40", "09:50", W),
        ("09:50", "10:10", ID),
        ("10:10", "10:20", W),
        ("10:20", "10:30", ID),
    ]
    assert spans[0].means == "sign_in" and spans[3].means == "console"


def test_intervals_split_across_states_with_adherence_and_conformance() -> None:
    spans = actual_spans(DAY, SESSIONS, LEASES, at(9), at(10, 30))
    rows = intervals([(at(9), at(10))], spans, at(9), at(10, 30))
    assert [r.start.strftime("%H:%M") for r in rows] == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
    ]
    first, second, third, fourth, fifth, sixth = rows
    # 09:00-09:15: idle 5 + working 7 + idle 3: all scheduled and in adherence.
    assert first.minutes == {W: 7, ID: 8, B: 0, S: 0}
    assert (first.state, first.in_adherence, first.adherent_minutes) == (ID, True, 15)
    # 09:15-09:30: idle 5, a break of 10 in the shift: out of adherence for 10.
    assert second.minutes == {W: 0, ID: 5, B: 10, S: 0}
    assert (second.state, second.in_adherence, second.adherent_minutes) == (B, False, 5)
    # 09:30-09:45: break 5, idle 5, working 5: a tie goes to working.
    assert third.minutes == {W: 5, ID: 5, B: 5, S: 0}
    assert (third.state, third.adherent_scheduled_minutes) == (W, 10)
    assert fourth.minutes == {W: 5, ID: 10, B: 0, S: 0} and fourth.in_adherence
    # 10:00-10:30: signed in and working while not scheduled: off schedule, not adherent.
    assert fifth.scheduled_minutes == 0 and fifth.off_schedule_minutes == 15
    assert sixth.minutes == {W: 5, ID: 10, B: 0, S: 0} and not sixth.in_adherence
    whole = totals(rows)
    assert whole.scheduled_minutes == 60
    assert whole.minutes == {W: 27, ID: 48, B: 15, S: 0}
    assert whole.adherent_scheduled_minutes == 45
    assert whole.adherence == pytest.approx(45 / 60)  # in adherence while scheduled
    assert whole.conformance == pytest.approx(75 / 60)  # worked or available, whenever
    assert whole.off_schedule_minutes == 30


def test_a_lapsed_console_session_signs_the_agent_out_after_its_idle_timeout() -> None:
    # Signed in at 09:00, last request 09:10, idle timeout 30 minutes: gone from 09:40.
    spans = actual_spans(
        [PresenceChange(at(9), "available", "sign_in")], [(at(9), at(9, 40))], [], at(9), at(10)
    )
    assert _shape(spans) == [("09:00", "09:40", ID), ("09:40", "10:00", S)]
    assert spans[1].means == "expiry"
    rows = intervals([(at(9), at(10))], spans, at(9), at(10))
    assert totals(rows).adherence == pytest.approx(40 / 60)
    # A presence set through the API with no console session live holds until changed.
    api = actual_spans([PresenceChange(at(9), "available", "api")], [], [], at(9), at(10))
    assert _shape(api) == [("09:00", "10:00", ID)]
    # A new sign-in after the lapse makes the agent available again.
    again = actual_spans(
        [
            PresenceChange(at(9), "available", "sign_in"),
            PresenceChange(at(9, 50), "available", "sign_in"),
        ],
        [(at(9), at(9, 40)), (at(9, 50), at(11))],
        [],
        at(9),
        at(10),
    )
    assert _shape(again) == [("09:00", "09:40", ID), ("09:40", "09:50", S), ("09:50", "10:00", ID)]


def test_a_break_outranks_a_lease_and_a_lease_outranks_signed_out() -> None:
    spans = actual_spans(
        [PresenceChange(at(9), "available", "sign_in"), PresenceChange(at(9, 10), "break", "api")],
        [(at(9), at(12))],
        [(at(9), at(9, 30)), (at(10), at(10, 5))],
        at(9),
        at(10, 15),
    )
    assert _shape(spans) == [("09:00", "09:10", W), ("09:10", "10:15", B)]
    # Signed out (never signed in), yet claiming and submitting through the API: working.
    api = actual_spans([], [], [(at(9, 5), at(9, 10))], at(9), at(9, 15))
    assert _shape(api) == [("09:00", "09:05", S), ("09:05", "09:10", W), ("09:10", "09:15", S)]
    assert api[0].means is None


def test_a_period_ending_inside_an_interval_and_uncovered_time() -> None:
    rows = intervals([(at(9), at(9, 20))], [], at(9), at(9, 20))
    assert [(r.start.strftime("%H:%M"), r.length) for r in rows] == [("09:00", 15), ("09:15", 5)]
    assert rows[0].minutes[S] == 15 and rows[0].adherent_minutes == 0
    assert totals(rows).adherence == 0 and totals(rows).conformance == 0
    assert totals([]).adherence is None and totals([]).conformance is None
    # Not scheduled and signed out: in adherence.
    off = intervals([], [], at(9), at(9, 30), interval_minutes=30)
    assert len(off) == 1 and off[0].in_adherence and off[0].scheduled_minutes == 0
    with pytest.raises(InvalidInput):
        intervals([], [], at(9), at(10), interval_minutes=20)


def test_local_days_across_daylight_saving_have_92_and_100_intervals() -> None:
    london = ZoneInfo("Europe/London")
    spring_start, spring_end = local_day(date(2026, 3, 29), london)
    assert (spring_start, spring_end) == (
        datetime(2026, 3, 29, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 23, tzinfo=UTC),
    )
    # A shift 00:30 to 03:30 local that night is two real hours (01:00 to 02:00 is skipped).
    shift = [(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, 30, tzinfo=UTC))]
    spans = [Span(spring_start, spring_end, ID)]
    rows = intervals(shift, spans, spring_start, spring_end)
    assert len(rows) == 92
    local = [r.start.astimezone(london).strftime("%H:%M") for r in rows]
    assert local[3:6] == ["00:45", "02:00", "02:15"]  # no 01:00 to 01:45
    assert totals(rows).scheduled_minutes == 120 and totals(rows).adherence == 1
    autumn_start, autumn_end = local_day(date(2026, 10, 25), london)
    assert autumn_end - autumn_start == timedelta(hours=25)
    rows = intervals([], [], autumn_start, autumn_end)
    assert len(rows) == 100
    local = [r.start.astimezone(london).strftime("%H:%M %Z") for r in rows]
    assert local[4:9] == ["01:00 BST", "01:15 BST", "01:30 BST", "01:45 BST", "01:00 GMT"]


def test_now_and_its_reason() -> None:
    spans = actual_spans(DAY, SESSIONS, LEASES, at(9), at(10, 30))
    found = state_at(spans, at(9, 25))
    assert found is not None and found.state is B and found.start == at(9, 20)
    assert state_at(spans, at(11)) is None
    assert out_of_adherence(True, B) == "not working"
    assert out_of_adherence(True, S) == "not working"
    assert out_of_adherence(False, W) == "off schedule"
    assert out_of_adherence(False, ID) == "off schedule"
    assert out_of_adherence(True, W) is None and out_of_adherence(False, S) is None
