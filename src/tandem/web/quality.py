"""Quality control for those who manage and follow it (the reviewers' desk is
tandem.web.desks, at /console/quality): the quality report, with accuracy per process,
client, agent or field over time and the outgoing quality of each process against its
promise (charts drawn on the server, their numbers in tables too); the alerts of agents
fallen below a process's threshold; and each process's QA policy.

Pages are drawn from the services the API uses, scoped as the API scopes them (a client's
people see their own processes); what they change (a policy, an acknowledged alert) the
page's script (static/quality.js) asks of the API, where it is permissioned and audited."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import pygal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tandem.catalog.service import get_process
from tandem.core import paging
from tandem.documents import gold as gold_documents
from tandem.http import Services
from tandem.quality import gold, overview, report, standing
from tandem.quality.accuracy import Rate
from tandem.quality.overview import Names
from tandem.quality.report import AccuracyRow, ProcessQuality
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.charts import SIZES, Chart, options, style, svg
from tandem.web.finding import page_number, window_of
from tandem.web.forms import controls
from tandem.web.templating import page, viewer

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(viewer(Permission.QUALITY_READ))]
AlertReader = Annotated[Principal, Depends(viewer(Permission.AGENT_QUALITY_READ))]
Manager = Annotated[Principal, Depends(viewer(Permission.QUALITY_MANAGE))]

HOME = "/console/qa"

# A process's QA modes (tandem.catalog.models.QA_MODES) as people read them, with what each does.
MODES: dict[str, tuple[str, str]] = {
    "none": ("No quality control", "Results are delivered as they are submitted."),
    "sampling": (
        "Sampling (CSP-1)",
        "Every item of a new agent is reviewed until a run of them passes; then a random "
        "share, sized to keep outgoing errors within the promise. An error starts a new run.",
    ),
    "double_entry": (
        "Double entry",
        "Two agents key each item; where they disagree, a reviewer adjudicates.",
    ),
    "full_review": ("Full review", "Every item is reviewed before it is delivered."),
}

GROUPINGS = {"process": "Process", "client": "Client", "agent": "Agent", "field": "Field"}
INTERVALS = {"day": "Day", "week": "Week", "month": "Month"}
DAYS_BY_DAY = 92  # the longest period shown a day at a time
LONGEST = 731  # the longest period shown at all, in days
SERIES_SHOWN = 7  # a chart's lines at most: the groups checked most (the table has all)


def tabs(principal: Principal) -> list[tuple[str, str, str]]:
    """(key, label, url) of the quality pages this person may open."""
    held = principal.permissions
    found = []
    if Permission.QUALITY_READ in held:
        found.append(("report", "Report", HOME))
    if Permission.AGENT_QUALITY_READ in held:
        found.append(("alerts", "Alerts", f"{HOME}/alerts"))
    if Permission.AGENT_QUALITY_READ in held and principal.client_id is None:
        found.append(("standing", "Agents' standing", f"{HOME}/standing"))
    if Permission.QUALITY_MANAGE in held:
        found.append(("policies", "Policies", f"{HOME}/policies"))
        found.append(("gold", "Gold items", f"{HOME}/gold"))
    return found


def groupings(principal: Principal) -> dict[str, str]:
    """What the report may be grouped by for this person: per client for provider staff,
    per agent for those who may see agents' quality."""
    return {
        key: text
        for key, text in GROUPINGS.items()
        if (key != "client" or principal.client_id is None)
        and (key != "agent" or Permission.AGENT_QUALITY_READ in principal.permissions)
    }


# -- numbers as people read them ---------------------------------------------------------------


def percent(value: float | None) -> str:
    """A measured share, as "97.5 %"."""
    return "—" if value is None else f"{100 * value:.1f} %"


def setting(value: float) -> str:
    """A share a policy sets, as typed: 0.01 as "1 %", 0.015 as "1.5 %"."""
    return f"{_plain(value)} %"


def span(rate: Rate) -> str:
    """A rate's 95 % interval, as "91.2 to 97.8 %" (a dash when nothing was checked)."""
    if not rate.checked:
        return "—"
    return f"{100 * rate.low:.1f} to {100 * rate.high:.1f} %"


def period_text(day: date | None, interval: str) -> str:
    if day is None:
        return "Whole period"
    if interval == "week":
        return f"Week of {day:%Y-%m-%d}"
    if interval == "month":
        return f"{day:%B %Y}"
    return f"{day:%Y-%m-%d}"


def _axis_text(day: date, interval: str) -> str:
    return f"{day:%b %Y}" if interval == "month" else f"{day:%d %b}"


# -- the report ------------------------------------------------------------------------------


@dataclass
class Asked:
    """The report's form as typed, what it asks for, and what in it could not be read."""

    form: dict[str, str]
    by: str
    interval: str
    process_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    first: date  # the first day shown (UTC)
    last: date  # the last day shown
    errors: dict[str, str]

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def asked(request: Request, principal: Principal, names: Names, now: datetime) -> Asked:
    """Reads the report's form (a GET: the address can be shared, and alerts link to it); a
    value that cannot be read is named beside its field and the default used instead."""
    params = request.query_params
    form = {
        name: params.get(name, "").strip()
        for name in ("by", "interval", "process", "agent", "from", "to")
    }
    errors: dict[str, str] = {}
    choices = groupings(principal)
    by = form["by"] or "process"
    if by not in choices:
        errors["by"], by = "not one of the choices", "process"
    process_id = None
    if form["process"]:
        try:
            process_id = uuid.UUID(form["process"])
        except ValueError:
            process_id = None
        if process_id not in names.processes:
            errors["process"], process_id = "not one of the choices", None
    agent_id = None
    if form["agent"] and by == "agent":
        try:
            agent_id = uuid.UUID(form["agent"])
        except ValueError:
            errors["agent"] = "That agent is not known: every agent is shown."
    month = timedelta(days=29)  # the default period: 30 days up to today
    last = _date(form["to"]) if form["to"] else now.astimezone(UTC).date()
    if last is None:
        errors["to"], last = "a date as 2026-12-31", now.astimezone(UTC).date()
    first = _date(form["from"]) if form["from"] else last - month
    if first is None:
        errors["from"], first = "a date as 2026-12-31", last - month
    if first > last:
        errors.setdefault("to", "on or after the first day")
        first = last - month
    elif (last - first).days >= LONGEST:
        errors["from"] = f"at most {LONGEST} days before the last day"
        first = last - timedelta(days=LONGEST - 1)
    long = (last - first).days >= DAYS_BY_DAY
    interval = form["interval"] or ("week" if long else "day")
    if interval not in INTERVALS:
        errors["interval"], interval = "not one of the choices", "week" if long else "day"
    elif interval == "day" and long:
        errors["interval"] = f"a day at a time over {DAYS_BY_DAY} days at most: shown by week"
        interval = "week"
    form["from"] = form["from"] or first.isoformat()
    form["to"] = form["to"] or last.isoformat()
    return Asked(
        form,
        by,
        interval,
        process_id,
        agent_id,
        first,
        last,
        errors,
    )


@dataclass(frozen=True)
class AccuracyLine:
    """A row of the accuracy table."""

    group: str  # in words
    period: str
    fields: Rate
    items: Rate | None
    link: str | None  # a closer look: a process's fields, or one agent alone


def _series(
    rows: Sequence[AccuracyRow], label: Callable[[str], str], measure: str
) -> tuple[list[date], dict[str, dict[date, float]]]:
    """The periods and, per group (the most checked first, at most SERIES_SHOWN), its
    accuracy in percent by period."""
    weight: dict[str, int] = defaultdict(int)
    values: dict[str, dict[date, float]] = defaultdict(dict)
    periods: set[date] = set()
    for row in rows:
        rate = row.items if measure == "items" else row.fields
        if rate is None or rate.value is None or row.period is None:
            continue
        weight[row.group] += rate.checked
        values[row.group][row.period] = round(100 * rate.value, 2)
        periods.add(row.period)
    shown = sorted(weight, key=lambda group: (-weight[group], label(group)))[:SERIES_SHOWN]
    series: dict[str, dict[date, float]] = {}
    for group in shown:
        name = label(group)
        series[f"{name} ({group[-8:]})" if name in series else name] = values[group]
    return sorted(periods), series


# Colours for lines and bars, each at least 3:1 against white as graphics need: the groups'
# (red is kept for the alert threshold), and the outgoing chart's (estimate, promise, rejected).
GROUP_COLOURS = ("#0b57d0", "#1a7f37", "#8a4b00", "#6f42c1", "#0e7490", "#9a3412", "#4b5563")
THRESHOLD_COLOUR = "#b42318"
OUTGOING_COLOURS = ("#0b57d0", "#4b5563", "#9a3412")


def accuracy_chart(
    rows: Sequence[AccuracyRow],
    label: Callable[[str], str],
    *,
    by: str,
    interval: str,
    threshold: float | None,
) -> Chart | None:
    """Accuracy per group over time: items without an error (fields right, per field), in
    percent; with the alert threshold as a dashed line when one process is shown."""
    measure = "fields" if by == "field" else "items"
    periods, series = _series(rows, label, measure)
    if not series:
        return None
    what = "Fields right" if measure == "fields" else "Items without an error"
    title = f"{what} per {GROUPINGS[by].lower()} and {interval} (%)"
    single = len(periods) == 1  # one period: bars, a line needs two points
    drawn_threshold = threshold is not None and measure == "items" and not single
    lowest = min(
        [value for values in series.values() for value in values.values()]
        + ([100 * threshold] if drawn_threshold and threshold is not None else [])
    )
    floor = max(0, int((lowest - 5) // 10) * 10)  # the y axis: from a round ten below, to 100
    colours = [*GROUP_COLOURS[: len(series)], THRESHOLD_COLOUR]
    legend = [(name, colour, False) for name, colour in zip(series, colours, strict=False)]
    if drawn_threshold and threshold is not None:
        legend.append((f"Alert threshold ({setting(threshold)})", THRESHOLD_COLOUR, True))
    drawn = []
    for size in SIZES:
        kind = pygal.Bar if single else pygal.Line
        chart = kind(
            **options(
                title,
                size,
                style=style(colours),
                value_formatter=lambda value: f"{value:.1f} %",
                range=(floor, 100),
                zero=floor,
                y_labels=list(range(floor, 101, 10 if floor < 80 else 5)),
                show_minor_x_labels=size == "wide" or len(periods) <= 6,
                x_labels_major_count=6,
                dots_size=3,
            )
        )
        chart.x_labels = [_axis_text(day, interval) for day in periods]
        for name, values in series.items():
            chart.add(name, [values.get(day) for day in periods])
        if drawn_threshold and threshold is not None:
            chart.add(
                legend[-1][0],
                [round(100 * threshold, 2)] * len(periods),
                stroke_style={"dasharray": "6, 4", "width": 2},
                show_dots=False,
            )
        drawn.append(svg(chart, title, size))
    return Chart(Markup("").join(drawn), legend)


def _round_up(value: float) -> float:
    """A round number at or above `value`: 34.9 to 50, 1 to 1, 0.3 to 0.5."""
    scale = 10 ** math.floor(math.log10(value))
    return float(next(step * scale for step in (1, 2, 5, 10) if step * scale >= value))


def _cut(text: str, longest: int) -> str:
    return text if len(text) <= longest else text[: longest - 1].rstrip() + "…"


def _share(value: float) -> str:
    """A small percentage on a bar: 0.5 as "0.5 %", 1.0 as "1 %"."""
    return f"{round(value, 2):g} %"


OUTGOING_SERIES = (
    "Estimated errors delivered",
    "Promised at most (AOQL)",
    "Rejected by the client",
)


def outgoing_chart(
    rows: Sequence[ProcessQuality], label: Callable[[uuid.UUID], str]
) -> Chart | None:
    """Per process that delivered: the estimated share of outgoing errors against the
    promise (the AOQL), and the share the client rejected, in percent; bars across, so a
    process's name reads on the left."""
    shown = [row for row in rows if row.delivered]
    if not shown:
        return None
    title = "Outgoing errors against the promise (% of delivered)"
    estimated = [
        None if row.estimated_accuracy is None else round(100 * (1 - row.estimated_accuracy), 3)
        for row in shown
    ]
    promised: list[float | None] = [round(100 * (1 - row.target_accuracy), 3) for row in shown]
    rejected = [
        None if row.observed_accuracy is None else round(100 * (1 - row.observed_accuracy), 3)
        for row in shown
    ]
    top = max(value or 0 for value in (*estimated, *promised, *rejected)) or 1
    drawn = []
    for size in SIZES:
        narrow = size == "narrow"
        chart = pygal.HorizontalBar(
            **options(
                title,
                size,
                height=120 + (84 if narrow else 66) * len(shown),
                style=style(OUTGOING_COLOURS),
                value_formatter=_share,
                print_values=not narrow,  # a phone's bars are too short to carry numbers
                x_label_rotation=0,
                margin_right=28 if narrow else 12,
            )
        )
        if narrow:  # few value labels across a phone's width
            chart.y_labels = [0, _round_up(top) / 2, _round_up(top)]
        longest = 20 if narrow else 60  # (pygal cuts no label of bars across)
        chart.x_labels = [_cut(label(row.process_id), longest) for row in shown]
        for name, values in zip(OUTGOING_SERIES, (estimated, promised, rejected), strict=True):
            # no bar for nothing: "0 %" beside every bar would drown the rest (the table has it)
            chart.add(name, [value or None for value in values])
        drawn.append(svg(chart, title, size))
    legend = [
        (name, colour, False)
        for name, colour in zip(OUTGOING_SERIES, OUTGOING_COLOURS, strict=True)
    ]
    return Chart(Markup("").join(drawn), legend)


@router.get("/console/qa", response_class=HTMLResponse)
def quality_report(request: Request, principal: Reader, services: Services) -> HTMLResponse:
    """The quality report: outgoing quality per process, then accuracy over time."""
    staff = principal.client_id is None
    with services.context(principal) as ctx:
        names = overview.names(ctx)
        ask = asked(request, principal, names, ctx.now)
        rows = report.accuracy(
            ctx,
            by=ask.by,
            since=ask.since,
            until=ask.until,
            interval=ask.interval,
            process_id=ask.process_id,
        )
        if ask.agent_id is not None:
            rows = [row for row in rows if row.group == str(ask.agent_id)]
        outgoing = [
            row
            for row in report.report(ctx, since=ask.since, until=ask.until)
            if ask.process_id is None or row.process_id == ask.process_id
        ]
        if ask.by == "agent":
            agents = {uuid.UUID(row.group) for row in rows}
            if ask.agent_id is not None:
                agents.add(ask.agent_id)
            names = replace(names, agents=overview.agent_names(ctx, agents))
        threshold = None
        if ask.process_id is not None and ask.by in ("process", "agent"):
            threshold = overview.policy(ctx, ask.process_id).min_accuracy

    def group_label(group: str) -> str:
        return names.group(ask.by, group, with_client=staff and ask.process_id is None)

    def process_label(process_id: uuid.UUID) -> str:
        return names.process(process_id, with_client=staff)

    def bar_label(process_id: uuid.UUID) -> str:  # the process first: it stays when cut short
        found = names.processes.get(process_id)
        if found is None or not staff:
            return names.process(process_id)
        return f"{found.name} ({names.client(found.client_id)})"

    lines = sorted(
        (
            AccuracyLine(
                group_label(row.group),
                period_text(row.period, ask.interval),
                row.fields,
                row.items,
                closer(ask, row.group),
            )
            for row in rows
        ),
        key=lambda line: line.group.lower(),  # stable: each group's periods stay in order
    )
    return page(
        request,
        "quality_report.html",
        principal,
        tab="report",
        tabs=tabs(principal),
        ask=ask,
        names=names,
        staff=staff,
        groupings=groupings(principal),
        intervals=INTERVALS,
        modes=MODES,
        lines=lines,
        outgoing=outgoing,
        process_label=process_label,
        agent=None if ask.agent_id is None else names.agent(ask.agent_id),
        every_agent=report_url(
            ask, by="agent", **({"process": str(ask.process_id)} if ask.process_id else {})
        ),
        chart=accuracy_chart(
            rows, group_label, by=ask.by, interval=ask.interval, threshold=threshold
        ),
        outgoing_chart=outgoing_chart(outgoing, bar_label),
        series_shown=SERIES_SHOWN,
        percent=percent,
        setting=setting,
        span=span,
    )


def report_url(ask: Asked, **changes: str) -> str:
    """The report's address with the period and interval asked, changed as told."""
    query = {"interval": ask.interval, "from": ask.first.isoformat(), "to": ask.last.isoformat()}
    return f"{HOME}?{urlencode({**changes, **query})}"


def closer(ask: Asked, group: str) -> str | None:
    """Where a row of the accuracy table leads: a process to its fields, an agent (among
    several) to them alone."""
    if ask.by == "process":
        return report_url(ask, by="field", process=group)
    if ask.by == "agent" and ask.agent_id is None:
        process = {"process": str(ask.process_id)} if ask.process_id else {}
        return report_url(ask, by="agent", agent=group, **process)
    return None


# -- alerts -----------------------------------------------------------------------------------

ALERT_NOTICES = {"acknowledged": "Acknowledged: the alert has left the open ones."}


@router.get("/console/qa/alerts", response_class=HTMLResponse)
def alerts(
    request: Request, principal: AlertReader, services: Services, done: str | None = None
) -> HTMLResponse:
    """Agents fallen below a process's accuracy threshold, to acknowledge; those acknowledged
    in the last 30 days; and the processes whose outgoing quality misses its promise."""
    number = page_number(request)
    with services.context(principal) as ctx:
        names = overview.names(ctx)
        open_alerts = report.open_alerts(ctx, window=window_of(number))
        since = ctx.now - timedelta(days=30)
        acknowledged = (
            overview.acknowledged_alerts(ctx, since) if principal.client_id is None else []
        )
        missing = None  # the report is for those who may read quality
        if Permission.QUALITY_READ in principal.permissions:
            missing = [row for row in report.report(ctx, since=since) if row.meets_target is False]
        agents = {alert.agent_id for alert in open_alerts.items}
        agents |= {seen.alert.agent_id for seen in acknowledged}
        names = replace(names, agents=overview.agent_names(ctx, agents))
    return page(
        request,
        "quality_alerts.html",
        principal,
        tab="alerts",
        tabs=tabs(principal),
        now=ctx.now,
        names=names,
        staff=principal.client_id is None,
        open_alerts=open_alerts,
        number=number,
        acknowledged=acknowledged,
        missing=missing,
        notice=ALERT_NOTICES.get(done or ""),
        percent=percent,
        setting=setting,
        span=span,
        modes=MODES,
    )


# -- policies ---------------------------------------------------------------------------------


@router.get("/console/qa/policies", response_class=HTMLResponse)
def policies(request: Request, principal: Manager, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        found = overview.policies(ctx)
    return page(
        request,
        "quality_policies.html",
        principal,
        tab="policies",
        tabs=tabs(principal),
        policies=found,
        modes=MODES,
        staff=principal.client_id is None,
        setting=setting,
    )


POLICY_NOTICES = {"saved": "Saved: the policy holds from the next item submitted."}


@router.get("/console/qa/policies/{process_id}", response_class=HTMLResponse)
def policy_page(
    process_id: uuid.UUID,
    request: Request,
    principal: Manager,
    services: Services,
    done: str | None = None,
) -> HTMLResponse:
    with services.context(principal) as ctx:
        seen = overview.policy(ctx, process_id)
    return page(
        request,
        "quality_policy.html",
        principal,
        tab="policies",
        tabs=tabs(principal),
        policy=seen,
        modes=MODES,
        staff=principal.client_id is None,
        notice=POLICY_NOTICES.get(done or ""),
        percent=percent,
        setting=setting,
        plain=_plain,
    )


def _plain(value: float) -> str:
    """A fraction as the percent typed in a form: 0.015 as "1.5"."""
    return f"{100 * value:.4f}".rstrip("0").rstrip(".")


# -- a process chosen on a page ---------------------------------------------------------------


def _chosen(
    asked: str | None, choices: Sequence[overview.PolicyView], fallback: uuid.UUID | None
) -> tuple[uuid.UUID | None, str | None]:
    """The process a page's `process` parameter names among `choices` (else `fallback`),
    and what was wrong with it, for its field."""
    if not asked:
        return fallback, None
    try:
        wanted = uuid.UUID(asked)
    except ValueError:
        return fallback, "not one of the choices"
    if wanted not in {p.process_id for p in choices}:
        return fallback, "not one of the choices"
    return wanted, None


def _fields_text(values: Mapping[str, Any], titles: dict[str, str]) -> list[tuple[str, str]]:
    """A payload or answer as (title, value) lines, in the form's order where it has one."""
    ordered = [name for name in titles if name in values] + sorted(
        name for name in values if name not in titles
    )
    return [
        (titles.get(name) or name.replace("_", " ").capitalize(), _value(values[name]))
        for name in ordered
    ]


def _value(value: object) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, float | int):
        return f"{value:,}"
    return str(value)


def _titles(schema: Mapping[str, Any]) -> dict[str, str]:
    """A form's fields' titles by code (the schema's, or the code in words)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    return {
        str(name): str(spec.get("title") or str(name).replace("_", " ").capitalize())
        for name, spec in properties.items()
        if isinstance(spec, Mapping)
    }


# -- gold items -------------------------------------------------------------------------------

GOLD_NOTICES = {
    "added": "Added: copies of it are slipped into the queue at the process's gold rate.",
    "retired": "Retired: no more copies of it are made; those in the queue are still scored.",
    "restored": "In use again: copies of it are made again.",
}


@router.get("/console/qa/gold", response_class=HTMLResponse)
def gold_page(
    request: Request,
    principal: Manager,
    services: Services,
    process: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """A process's gold items: what each asks and expects, who added it, its copies and how
    agents scored on them; adding one (typed, or from a delivered item) and retiring one
    go through the API (static/quality.js)."""
    staff = principal.client_id is None
    with services.context(principal) as ctx:
        every = overview.policies(ctx)
        with_gold = next((p.process_id for p in every if p.gold_rate > 0), None)
        fallback = with_gold or (every[0].process_id if every else None)
        process_id, error = _chosen(process, every, fallback)
        chosen = next((p for p in every if p.process_id == process_id), None)
        number = page_number(request)
        views: paging.Page[gold.GoldView] = paging.Page([], 0)
        sources: list[gold_documents.Candidate] = []
        documents = False
        inputs, outputs = [], []
        titles_in: dict[str, str] = {}
        titles_out: dict[str, str] = {}
        who: dict[str, str] = {}
        agents: dict[uuid.UUID, str] = {}
        if chosen is not None:
            found = get_process(ctx, chosen.process_id)
            _, views = gold.gold_items(ctx, chosen.process_id, window=window_of(number))
            sources = gold_documents.candidates(ctx, chosen.process_id)
            documents = gold_documents.with_documents(ctx.session, found.client_id, found.id)
            inputs = controls(found.input_schema)
            outputs = controls(found.form_schema)
            titles_in = _titles(found.input_schema)
            titles_out = _titles(found.form_schema)
            who = overview.actor_names(ctx.session, [v.added_by for v in views.items])
            agents = overview.agent_names(
                ctx, {s.agent_id for v in views.items for s in v.scores if s.agent_id is not None}
            )
    names = Names({}, {}, agents)
    return page(
        request,
        "quality_gold.html",
        principal,
        tab="gold",
        tabs=tabs(principal),
        staff=staff,
        processes=every,
        chosen=chosen,
        process_error=error,
        golds=views,
        number=number,
        sources=sources,
        documents=documents,
        inputs=inputs,
        outputs=outputs,
        payload_lines=lambda v: _fields_text(v.payload, titles_in),
        answer_lines=lambda v: _fields_text(v.answer, titles_out),
        field_title=lambda code: titles_out.get(code) or code.replace("_", " ").capitalize(),
        added_by=lambda v: who.get(v.added_by or ""),
        agent=lambda agent_id: "—" if agent_id is None else names.agent(agent_id),
        notice=GOLD_NOTICES.get(done or ""),
        modes=MODES,
        setting=setting,
        plain=_plain,
    )


# -- agents' standing -------------------------------------------------------------------------


@dataclass(frozen=True)
class StandingLine:
    """A row of the standing table, in words."""

    agent: str
    phase: str
    run: str
    standing: standing.AgentStanding


def _phase(seen: standing.AgentStanding) -> tuple[str, str]:
    """(phase, run) as team leads read them."""
    every = round(1 / seen.fraction) if seen.fraction else 0
    if seen.below_threshold:
        return (
            "Screening: below the threshold",
            "Every item reviewed until their accuracy recovers",
        )
    if seen.screening:
        return (
            "Screening",
            f"{seen.passes_in_a_row} of {seen.clearance} passed in a row",
        )
    return "Sampling", f"About 1 item in {every} reviewed"


@router.get("/console/qa/standing", response_class=HTMLResponse)
def standing_page(
    request: Request,
    principal: AlertReader,
    services: Services,
    process: str | None = None,
) -> HTMLResponse:
    """Each agent's CSP-1 standing on a process using sampling: phase, run, recent accuracy
    against the threshold, open alerts. The provider's staff only."""
    with services.context(principal) as ctx:
        every = overview.policies(ctx)
        sampling = [p for p in every if p.mode == "sampling"]
        fallback = sampling[0].process_id if sampling else None
        process_id, error = _chosen(process, every, fallback)
        chosen = next((p for p in every if p.process_id == process_id), None)
        number = page_number(request)
        found: paging.Page[standing.AgentStanding] = paging.Page([], 0)
        if chosen is not None:
            _, found = standing.standings(ctx, chosen.process_id, window=window_of(number))
        names = overview.agent_names(ctx, {s.agent_id for s in found.items})
    named = Names({}, {}, names)
    lines = sorted(
        (StandingLine(named.agent(s.agent_id), *_phase(s), s) for s in found.items),
        key=lambda line: (
            not line.standing.below_threshold,
            not line.standing.screening,
            line.agent.lower(),
        ),
    )
    offered = sampling + ([chosen] if chosen is not None and chosen not in sampling else [])
    return page(
        request,
        "quality_standing.html",
        principal,
        tab="standing",
        tabs=tabs(principal),
        staff=principal.client_id is None,
        processes=offered,
        chosen=chosen,
        process_error=error,
        lines=lines,
        found=found,
        number=number,
        window=standing.THRESHOLD_WINDOW,
        modes=MODES,
        percent=percent,
        setting=setting,
        span=span,
    )
