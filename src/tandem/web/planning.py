"""The workforce planner's pages: a process's forecast against what arrived, the staff it needs
per interval, and a what-if (volume, handle time, due time or service level, shrinkage,
occupancy) beside the process's own figures. The what-if is a GET form: a plan can be
bookmarked and shared; a value that cannot be read is named beside its field and the
process's own value used instead."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pygal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tandem.catalog.service import get_process, list_processes
from tandem.core.errors import InvalidInput
from tandem.http import Services
from tandem.reports import adherence
from tandem.reports.forecasting import ProcessForecast, process_forecast
from tandem.reports.staffing import Assumptions, StaffNeeded, process_assumptions, staff_needed
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.charts import SIZES, Chart, options, style, svg
from tandem.web.finding import page_number, window_of
from tandem.web.templating import page, viewer
from tandem.workforce import rosters, shift_requests
from tandem.workforce.service import list_centers

router = APIRouter(include_in_schema=False)

Planner = Annotated[Principal, Depends(viewer(Permission.WORKFORCE_READ))]

DAYS = 7  # the forecast's days ahead, today first
HISTORY_WEEKS = (4, 8, 12, 26)  # the weeks a forecast may learn from; 8 unless chosen
# Planned, actual, reforecast; and the process's own staffing against the what-if.
FORECAST_COLOURS = ("#4b5563", "#0b57d0", "#9a3412")
STAFF_COLOURS = ("#8c959f", "#0b57d0")


@router.get("/console/planning", response_class=HTMLResponse)
def planning(request: Request, principal: Planner, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        processes = list_processes(ctx)
        clients = {c.id: c.name for c in ctx.session.query(Client)}
        number = page_number(request)
        planned = rosters.list_rosters(ctx, window=window_of(number))
    rows = sorted(
        ((clients.get(p.client_id, ""), p) for p in processes if p.active),
        key=lambda row: (row[0], row[1].name),
    )
    today = ctx.now.astimezone(request.state.zone).date()
    return page(
        request,
        "planning.html",
        principal,
        processes=rows,
        rosters=planned,
        roster_page=number,
        plans=Permission.ROSTER_MANAGE in principal.permissions,
        next_monday=today + timedelta(days=7 - today.weekday()),
        most_days=rosters.MAX_DAYS,
        time_limit=int(rosters.DEFAULT_TIME_LIMIT_S),
    )


@router.get("/console/planning/rosters/{roster_id}", response_class=HTMLResponse)
def roster_page(
    request: Request, roster_id: uuid.UUID, principal: Planner, services: Services
) -> HTMLResponse:
    with services.context(principal) as ctx:
        detail = rosters.roster_detail(ctx, roster_id)
        coverage = rosters.roster_coverage(ctx, roster_id)
        asked = requests_answered(ctx, detail)
    zone = request.state.zone
    return page(
        request,
        "planning_roster.html",
        principal,
        detail=detail,
        costs=costs(detail),
        heat=heat_map(coverage, zone),
        by_center={code: heat_map(coverage, zone, center=code) for code in coverage.centers},
        plans=Permission.ROSTER_MANAGE in principal.permissions,
        asked=asked,
    )


def requests_answered(
    ctx: Context, detail: rosters.RosterDetail
) -> list[tuple[rosters.AgentDays, list[shift_requests.RequestView]]]:
    """Per agent of the roster (in its order), the shift requests it answered: granted or
    not (agents without any left out)."""
    decided = shift_requests.decisions_of(ctx, detail.summary.id)
    return [
        (agent, decided[agent.agent_id]) for agent in detail.agents if agent.agent_id in decided
    ]


@router.get("/console/planning/adherence", response_class=HTMLResponse)
def adherence_page(request: Request, principal: Planner, services: Services) -> HTMLResponse:
    """A center's day: each agent's schedule against what they did, per half hour."""
    errors: dict[str, str] = {}
    with services.context(principal) as ctx:
        centers = list_centers(ctx)
        codes = [c.code for c in centers]
        code = request.query_params.get("center") or (codes[0] if codes else "")
        if code not in codes:
            errors["center"] = CHOICES
            code = codes[0] if codes else ""
        center = next((c for c in centers if c.code == code), None)
        zone = ZoneInfo(center.timezone if center else "UTC")
        day = ctx.now.astimezone(zone).date()
        typed = request.query_params.get("date", "")
        if typed:
            try:
                day = date.fromisoformat(typed)
            except ValueError:
                errors["date"] = "not a date (YYYY-MM-DD)"
        idle = timedelta(minutes=services.settings.session_idle_minutes)
        seen = None
        if center is not None:
            try:
                seen = adherence.center_day(ctx, code, day, interval_minutes=30, idle=idle)
            except InvalidInput as refused:
                errors["date"] = str(refused)
    times = []  # each half hour's local start, as the strip's columns
    if seen is not None and seen.agents:
        times = [f"{i.start.astimezone(zone):%H:%M}" for i in seen.agents[0].intervals]
    day_end = adherence.local_day(day, zone)[1]
    return page(
        request,
        "planning_adherence.html",
        principal,
        centers=centers,
        center=center,
        day=day,
        seen=seen,
        times=times,
        so_far=None if seen is None or seen.until >= day_end else seen.until.astimezone(zone),
        errors=errors,
    )


def costs(detail: rosters.RosterDetail) -> list[tuple[str, str, int, float]]:
    """Per center: its name, currency, cost in cents and hours rostered (currencies are
    not converted: each center's is its own)."""
    cents: dict[str, int] = defaultdict(int)
    minutes: dict[str, int] = defaultdict(int)
    for agent in detail.agents:
        cents[agent.center_code] += agent.cost_cents
        minutes[agent.center_code] += agent.minutes
    return [
        (center.name, center.currency, cents[center.code], minutes[center.code] / 60)
        for center in detail.centers
    ]


@dataclass(frozen=True)
class HeatCell:
    value: (
        int  # all centers: the fewest scheduled less required in the hour; a center: most on duty
    )
    level: str  # a CSS class: short, met, over (all centers) or a shade 0-4 (a center)
    text: str  # what a screen reader says


@dataclass(frozen=True)
class HeatMap:
    hours: list[int]
    days: list[tuple[str, list[HeatCell | None]]]  # local day, per local hour (None: outside)


def heat_map(coverage: rosters.RosterCoverage, zone: tzinfo, center: str | None = None) -> HeatMap:
    """The roster's coverage per local day and hour, in the viewer's time zone: for all
    centers, the worst quarter of each hour (scheduled less required: below zero is short);
    for one center, the most of its agents on duty in the hour."""
    cells: dict[date, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for interval in coverage.intervals:
        local = interval.starts_at.astimezone(zone)
        if center is None:
            value = interval.scheduled - interval.required
        else:
            value = interval.by_center.get(center, 0)
        cells[local.date()][local.hour].append(value)
    top = max((max(v) for hours in cells.values() for v in hours.values()), default=0) or 1
    days = []
    for day in sorted(cells):
        row: list[HeatCell | None] = []
        for hour in range(24):
            values = cells[day].get(hour)
            if not values:
                row.append(None)
            elif center is None:
                worst = min(values)
                level = "short" if worst < 0 else "met" if worst == 0 else "over"
                said = f"{-worst} short" if worst < 0 else "met" if worst == 0 else f"{worst} over"
                row.append(HeatCell(worst, level, said))
            else:
                most = max(values)
                row.append(
                    HeatCell(most, f"shade-{min(4, -(-4 * most // top))}", f"{most} on duty")
                )
        days.append((f"{day:%a %d %b}", row))
    return HeatMap(list(range(24)), days)


# The what-if's fields: (name, label, unit, how a typed value becomes the assumption's).
@dataclass(frozen=True)
class Field:
    name: str
    label: str
    unit: str
    low: float
    high: float
    scale: float = 1.0  # typed value times this is the assumption's (percent: 0.01)


FIELDS = (
    Field("volume", "Volume", "% of the forecast", 1, 10_000, 0.01),
    Field("aht", "Handle time", "seconds", 1, 86_400),
    Field("due", "Finished within", "minutes", 1, 44_640),
    Field("service_level", "Service level", "% answered in time", 1, 99.9, 0.01),
    Field("target", "Answered within", "seconds", 0, 3_600),
    Field("shrinkage", "Shrinkage", "%", 0, 95, 0.01),
    Field("occupancy", "Occupancy at most", "%", 10, 100, 0.01),
)
ASSUMPTION = {
    "volume": "volume_factor",
    "aht": "aht_seconds",
    "due": "due_minutes",
    "service_level": "service_level",
    "target": "target_seconds",
    "shrinkage": "shrinkage",
    "occupancy": "max_occupancy",
}
CHOICES = "not one of the choices"
METHODS = {
    "due": "Finish every item by its due time (back office, mail)",
    "live": "Answer while the customer waits (Erlang C)",
}


@dataclass
class WhatIf:
    form: dict[str, str]
    errors: dict[str, str]
    assumptions: Assumptions
    changed: bool


def what_if(request: Request, own: Assumptions) -> WhatIf:
    """The form's values read over the process's own assumptions."""
    form = {f.name: request.query_params.get(f.name, "").strip() for f in FIELDS}
    form["method"] = request.query_params.get("method", "").strip()
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for f in FIELDS:
        if not form[f.name]:
            continue
        try:
            value = float(form[f.name])
        except ValueError:
            errors[f.name] = "not a number"
            continue
        if not (math.isfinite(value) and f.low <= value <= f.high):
            errors[f.name] = f"must be {f.low:g} to {f.high:g}"
            continue
        changes[ASSUMPTION[f.name]] = value * f.scale
    if form["method"]:
        if form["method"] in METHODS:
            changes["method"] = form["method"]
        else:
            errors["method"] = CHOICES
    changed = replace(own, **changes)
    return WhatIf(form, errors, changed, changed != own)


def shown(own: Assumptions) -> dict[str, str]:
    """The process's own assumptions as the form's placeholders."""
    values = {f.name: getattr(own, ASSUMPTION[f.name]) for f in FIELDS}
    return {
        f.name: "" if values[f.name] is None else f"{values[f.name] / f.scale:g}" for f in FIELDS
    }


@dataclass(frozen=True)
class DayPlan:
    day: int
    date: str
    arrivals: float
    person_hours: float  # people to schedule times the interval, summed
    peak: int


def _days(needed: Sequence[StaffNeeded], per_day: int, interval_minutes: int) -> list[DayPlan]:
    days = []
    for day in range(len(needed) // per_day):
        part = needed[day * per_day : (day + 1) * per_day]
        days.append(
            DayPlan(
                day,
                f"{part[0].start:%a %d %b}",
                sum(n.arrivals for n in part),
                sum(n.scheduled for n in part) * interval_minutes / 60,
                max(n.scheduled for n in part),
            )
        )
    return days


@router.get("/console/planning/processes/{process_id}", response_class=HTMLResponse)
def process_plan(
    request: Request, process_id: uuid.UUID, principal: Planner, services: Services
) -> HTMLResponse:
    errors: dict[str, str] = {}
    weeks = _choice("weeks", request, HISTORY_WEEKS, 8, errors)
    day = _choice("day", request, range(DAYS), 0, errors)
    with services.context(principal) as ctx:
        process = get_process(ctx, process_id)
        client = ctx.session.get_one(Client, process.client_id)
        found = process_forecast(ctx, process_id, days=DAYS, weeks=weeks)
        try:
            today = adherence.intraday(ctx, process_id, found=found)
        except InvalidInput:  # no handle time measured yet: the page says so below
            today = None
    own = process_assumptions(process)
    asked = what_if(request, own)
    asked.errors.update(errors)
    per_day = found.main.forecast.per_day
    problem = None
    planned: list[StaffNeeded] = []
    baseline: list[StaffNeeded] = []
    try:
        planned = staff_needed(found, asked.assumptions)
    except InvalidInput as refused:
        problem = str(refused)
    baseline = planned
    if asked.changed and planned:
        try:
            baseline = staff_needed(found, own)
        except InvalidInput:  # no handle time measured: the what-if's is the only plan
            baseline = []
    compared = asked.changed and bool(baseline)
    lo, hi = day * per_day, (day + 1) * per_day
    starts = found.interval_starts()
    return page(
        request,
        "planning_process.html",
        principal,
        process=process,
        client=client,
        found=found,
        forecast_chart=forecast_chart(found),
        staff_chart=staff_chart(planned[lo:hi], baseline[lo:hi] if compared else None)
        if planned
        else None,
        days=_days(planned, per_day, found.interval_minutes),
        baseline_days=_days(baseline, per_day, found.interval_minutes),
        rows=list(zip(baseline[lo:hi] or planned[lo:hi], planned[lo:hi], strict=True)),
        compared=compared,
        day=day,
        day_names=[f"{starts[d * per_day]:%a %d %b}" for d in range(DAYS)],
        weeks=weeks,
        history_weeks=HISTORY_WEEKS,
        asked=asked,
        own=shown(own),
        fields=FIELDS,
        methods=METHODS,
        problem=problem,
        intraday=today,
    )


def _choice(
    name: str, request: Request, choices: Sequence[int], default: int, errors: dict[str, str]
) -> int:
    text = request.query_params.get(name, "")
    if not text:
        return default
    if text.isdigit() and int(text) in choices:
        return int(text)
    errors[name] = CHOICES
    return default


def _chart(
    kind: type[pygal.graph.graph.Graph],
    title: str,
    colours: Sequence[str],
    starts: Sequence[datetime],
    series: Sequence[tuple[str, Sequence[float | None]]],
    **more: Any,
) -> Chart:
    """A day's intervals on the x axis (an hour labelled in two, or four on a phone)."""
    drawn = []
    for size in SIZES:
        chart = kind(
            **options(
                title,
                size,
                style=style(colours),
                x_labels_major_every=4 if size == "wide" else 8,
                show_minor_x_labels=False,
                **more,
            )
        )
        chart.x_labels = [f"{start:%H:%M}" for start in starts]
        for name, values in series:
            chart.add(name, values)
        drawn.append(svg(chart, title, size))
    legend = [(name, c, False) for (name, _), c in zip(series, colours, strict=True)]
    return Chart(Markup("").join(drawn), legend)


def forecast_chart(found: ProcessForecast) -> Chart:
    """Today per interval: the forecast as made this morning, what arrived so far, and the
    rest of the day as reforecast from it."""
    main = found.main
    per_day = main.forecast.per_day
    elapsed = main.today_elapsed
    today = main.forecast.counts[:per_day]
    series: list[tuple[str, Sequence[float | None]]] = [
        ("Forecast", [round(c, 1) for c in main.planned_today]),
        ("Arrived", [round(c) for c in today[:elapsed]] + [None] * (per_day - elapsed)),
        ("Reforecast", [None] * elapsed + [round(c, 1) for c in today[elapsed:]]),
    ]
    title = f"Today's arrivals per {found.interval_minutes} minutes ({found.timezone})"
    starts = found.interval_starts()[:per_day]
    return _chart(pygal.Line, title, FORECAST_COLOURS, starts, series, dots_size=2)


def staff_chart(planned: Sequence[StaffNeeded], own: Sequence[StaffNeeded] | None) -> Chart:
    """People to schedule per interval of the day shown; the process's own figures beside
    the what-if's when one is asked."""
    people: list[tuple[str, Sequence[float | None]]] = [
        ("People to schedule", [n.scheduled for n in planned])
    ]
    if own is not None:
        people = [
            ("The process's own figures", [n.scheduled for n in own]),
            ("What if", people[0][1]),
        ]
    colours = STAFF_COLOURS[-len(people) :]
    starts = [n.start for n in planned]
    return _chart(pygal.Bar, "People to schedule per interval", colours, starts, people)
