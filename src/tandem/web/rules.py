"""The rules of decision processes, for those who may read them: each process's versions
(who uploaded and published them, how their result is read, their reasons catalogue),
a version's test cases run as the page opens, publishing a draft, uploading a new version,
backtesting a version on past items, and the rules' measures day by day. Charts are SVG
drawn on the server (pygal): no script, nothing fetched.

The pages read through the use cases the API uses; what they change (upload, test cases,
publish) the page's script (static/rules.js) asks of the API, with the session cookie, so
the checks and their errors are the API's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import pygal
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import select

from tandem.catalog.models import Process
from tandem.catalog.service import list_processes
from tandem.decisions import backtesting, measures, reasons, rulesets
from tandem.decisions.models import Ruleset
from tandem.http import Services
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.vault.masking import mask_payload, personal_fields
from tandem.web.charts import style, svg
from tandem.web.custody import actor_names
from tandem.web.templating import label, page, viewer

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(viewer(Permission.RULESET_READ))]
Manager = Annotated[Principal, Depends(viewer(Permission.RULESET_MANAGE))]

BACKTEST_DEFAULT = 10_000  # past items a backtest from the page reads unless told
BACKTEST_MOST = 1_000_000  # as the API allows
TABLE_ROWS = 200  # rules of a decision table shown on a version's page
OUTCOMES = ("approve", "decline", "refer")
# The charts' colours (each series also named in the legend): approve, decline, refer; and
# the published version beside the one tested.
OUTCOME_COLOURS = ("#1a7f37", "#b42318", "#b26b00")
VERSION_COLOURS = ("#8c959f", "#0b57d0")


def _counts_axis(top: int) -> list[int]:
    """Whole numbers up the y axis (pygal would count 0.2 items)."""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def _manages(principal: Principal) -> bool:
    return Permission.RULESET_MANAGE in principal.permissions


def _client_names(ctx: Context, client_ids: Iterable[int]) -> dict[int, str]:
    wanted = set(client_ids)
    if not wanted:
        return {}
    rows = ctx.session.execute(select(Client.id, Client.name).where(Client.id.in_(wanted)))
    return {row.id: row.name for row in rows}


# -- the processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRules:
    process: Process
    client: str
    published: Ruleset | None
    drafts: int
    versions: int


@router.get("/console/rules", response_class=HTMLResponse)
def index(request: Request, principal: Reader, services: Services) -> HTMLResponse:
    """The decision processes the reader may see, with the version that decides now."""
    with services.context(principal) as ctx:
        processes = [p for p in list_processes(ctx) if p.kind == "decision"]
        versions: dict[uuid.UUID, list[Ruleset]] = {p.id: [] for p in processes}
        if processes:
            for ruleset in ctx.session.scalars(
                select(Ruleset).where(
                    principal.client_condition(Ruleset.client_id),
                    Ruleset.process_id.in_(list(versions)),
                )
            ):
                versions[ruleset.process_id].append(ruleset)
        clients = _client_names(ctx, (p.client_id for p in processes))
        rows = [
            ProcessRules(
                process,
                clients.get(process.client_id, ""),
                next((r for r in versions[process.id] if r.status == "published"), None),
                sum(r.status == "draft" for r in versions[process.id]),
                len(versions[process.id]),
            )
            for process in processes
        ]
        return page(
            request,
            "rules_index.html",
            principal,
            rows=rows,
            staff=principal.client_id is None,
            now=ctx.now,
        )


@router.get("/console/rules/{process_id}", response_class=HTMLResponse)
def process_rules(
    process_id: uuid.UUID,
    request: Request,
    principal: Reader,
    services: Services,
) -> HTMLResponse:
    """A process's versions, newest first, and the upload of a new one."""
    with services.context(principal) as ctx:
        process = rulesets.decision_process(ctx, process_id)
        versions = rulesets.list_versions(ctx, process.id)
        versions.reverse()
        latest = versions[0] if versions else None
        actors = actor_names(
            ctx.session,
            [a for v in versions for a in (v.created_by, v.published_by) if a],
        )
        properties = process.input_schema.get("properties", {})
        return page(
            request,
            "rules_process.html",
            principal,
            process=process,
            client=_client_names(ctx, [process.client_id]).get(process.client_id, ""),
            versions=versions,
            actors=actors,
            manages=_manages(principal),
            latest=latest,
            carry={
                "version": latest.version,
                "mapping": latest.mapping,
                "reasons": latest.reasons,
            }
            if latest
            else None,
            amount_fields=[
                name
                for name, spec in properties.items()
                if isinstance(spec, Mapping) and spec.get("type") in ("number", "integer")
            ],
            four_eyes=latest.four_eyes if latest else {},
            now=ctx.now,
        )


# -- a version ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A test case with its run: the input as the reader may see it, each expected field
    beside the one the rules gave."""

    name: str
    passed: bool
    input: dict[str, Any]
    fields: list[tuple[str, Any, Any, bool]]  # name, expected, actual, differs
    actual: dict[str, Any]


@dataclass(frozen=True)
class Table:
    """A decision table of the graph, its rules as rows (the first TABLE_ROWS)."""

    name: str
    hit_policy: str
    inputs: list[str]
    outputs: list[str]
    rows: list[tuple[int, str, list[str], list[str]]]  # number, description, cells in, out
    total: int


def _cases(ctx: Context, process: Process, ruleset: Ruleset) -> list[Case]:
    """The version's test cases, run now. Provider staff see the inputs' and results'
    personal fields masked, as they see items."""
    inputs = {test.name: test.input for test in rulesets.tests_of(ctx.session, ruleset)}
    personal = personal_fields(process.input_schema) if ctx.principal.client_id is None else {}

    def seen(values: Mapping[str, Any]) -> dict[str, Any]:
        return mask_payload(values, personal) if personal else dict(values)

    cases = []
    for run in rulesets.run_tests(ctx, ruleset.id):
        actual = seen(run.actual)
        expected = seen(run.expected)
        cases.append(
            Case(
                run.name,
                run.passed,
                seen(inputs.get(run.name, {})),
                [
                    (key, value, actual.get(key), run.actual.get(key) != run.expected[key])
                    for key, value in expected.items()
                ],
                actual,
            )
        )
    return sorted(cases, key=lambda case: case.passed)  # the failing ones first


def _tables(graph: Mapping[str, Any]) -> list[Table]:
    tables = []
    for node in graph.get("nodes") or []:
        content = node.get("content")
        if node.get("type") != "decisionTableNode" or not isinstance(content, Mapping):
            continue
        inputs = [c for c in content.get("inputs") or [] if isinstance(c, Mapping)]
        outputs = [c for c in content.get("outputs") or [] if isinstance(c, Mapping)]
        rules = [r for r in content.get("rules") or [] if isinstance(r, Mapping)]
        tables.append(
            Table(
                str(node.get("name") or node.get("id")),
                str(content.get("hitPolicy") or "first"),
                [str(c.get("name") or c.get("field") or c.get("id")) for c in inputs],
                [str(c.get("name") or c.get("field") or c.get("id")) for c in outputs],
                [
                    (
                        number,
                        str(rule.get("_description") or ""),
                        [str(rule.get(c.get("id")) or "") for c in inputs],
                        [str(rule.get(c.get("id")) or "") for c in outputs],
                    )
                    for number, rule in enumerate(rules[:TABLE_ROWS], start=1)
                ],
                len(rules),
            )
        )
    return tables


def _version(ctx: Context, ruleset_id: uuid.UUID) -> tuple[Ruleset, Process]:
    ruleset = rulesets.get_ruleset(ctx, ruleset_id)
    return ruleset, rulesets.decision_process(ctx, ruleset.process_id)


def _labels(ctx: Context, process: Process, ruleset: Ruleset) -> reasons.Catalogue:
    """The version's reasons catalogue over the process's: a code the version does not
    describe reads as the latest version that does."""
    across = reasons.of_process(ctx.session, process.client_id, process.id)
    return reasons.merged(across, reasons.of_ruleset(ruleset))


# What a version's page says after an action, by the word its script puts in the address.
VERSION_NOTICES = {
    "uploaded": "Uploaded as a new draft. Add test cases (or copy the last version's), run "
    "them, then publish.",
    "published": "Published: this version decides the process's items from now on.",
    "copied": "Test cases copied from the version before.",
}


@router.get("/console/rules/versions/{ruleset_id}", response_class=HTMLResponse)
def version(
    ruleset_id: uuid.UUID,
    request: Request,
    principal: Reader,
    services: Services,
    done: str | None = None,
) -> HTMLResponse:
    """A version: its test cases run as the page opens, its reasons, its decision tables,
    and, for a draft, publishing it."""
    with services.context(principal) as ctx:
        ruleset, process = _version(ctx, ruleset_id)
        others = [v.version for v in rulesets.list_versions(ctx, process.id) if v.id != ruleset.id]
        actors = actor_names(
            ctx.session, [a for a in (ruleset.created_by, ruleset.published_by) if a]
        )
        return page(
            request,
            "rules_version.html",
            principal,
            process=process,
            client=_client_names(ctx, [process.client_id]).get(process.client_id, ""),
            ruleset=ruleset,
            actors=actors,
            cases=_cases(ctx, process, ruleset),
            catalogue=_labels(ctx, process, ruleset),
            own=reasons.of_ruleset(ruleset),
            tables=_tables(ruleset.graph),
            manages=_manages(principal),
            others=sorted(others, reverse=True),
            backtest_default=BACKTEST_DEFAULT,
            backtest_most=BACKTEST_MOST,
            notice=VERSION_NOTICES.get(done or ""),
            now=ctx.now,
        )


@router.get("/console/rules/versions/{ruleset_id}/tests", response_class=HTMLResponse)
def tests(
    ruleset_id: uuid.UUID, request: Request, principal: Reader, services: Services
) -> HTMLResponse:
    """The version's test cases run again, alone: the page swaps them in."""
    with services.context(principal) as ctx:
        ruleset, process = _version(ctx, ruleset_id)
        return page(
            request,
            "_rules_tests.html",
            principal,
            ruleset=ruleset,
            cases=_cases(ctx, process, ruleset),
            catalogue=_labels(ctx, process, ruleset),
            now=ctx.now,
        )


# -- backtests ------------------------------------------------------------------------------------


def _outcomes_chart(report: Mapping[str, Any], draft: int, current: int | None) -> Markup:
    """Items per outcome, by the published version and by this one, as inline SVG."""
    chart = pygal.Bar(
        js=[],  # pygal's tooltips load a script from the internet; the chart needs none
        disable_xml_declaration=True,
        height=300,
        width=720,
        title="Items per outcome",
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        x_label_rotation=0,
        print_values=True,
        print_zeroes=False,
        style=style(VERSION_COLOURS if current is not None else VERSION_COLOURS[1:]),
    )
    chart.x_labels = [label(o) for o in OUTCOMES]
    outcomes = report.get("outcomes") or {}
    series = [
        [outcomes.get(which, {}).get(o, 0) for o in OUTCOMES] for which in ("published", "draft")
    ]
    chart.y_labels = _counts_axis(max(max(values) for values in series))
    if current is not None:
        chart.add(f"Version {current} (published)", series[0])
    chart.add(f"Version {draft}", series[1])
    return svg(chart, "Items per outcome, by the published version and by this one")


@router.get("/console/rules/versions/{ruleset_id}/backtest", response_class=HTMLResponse)
def backtest(
    ruleset_id: uuid.UUID,
    request: Request,
    principal: Manager,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=BACKTEST_MOST)] = BACKTEST_DEFAULT,
) -> HTMLResponse:
    """How this version would have decided the process's latest past items: against the
    published version and against the analysts' judgments (as the API's backtest)."""
    with services.context(principal) as ctx:
        ruleset, process = _version(ctx, ruleset_id)
        current = rulesets.published(ctx.session, ruleset.client_id, ruleset.process_id)
        report = backtesting.backtest(ctx, ruleset.id, limit=limit).as_dict()
        return page(
            request,
            "rules_backtest.html",
            principal,
            process=process,
            ruleset=ruleset,
            current=current,
            report=report,
            transitions=[
                (*key.split("->", 1), count) for key, count in report["transitions"].items()
            ],
            chart=_outcomes_chart(report, ruleset.version, current.version if current else None)
            if report["items"]
            else None,
            catalogue=_labels(ctx, process, ruleset),
            limit=limit,
            backtest_most=BACKTEST_MOST,
            now=ctx.now,
        )


# -- measures -------------------------------------------------------------------------------------


def _days_chart(per_day: Sequence[Mapping[str, Any]], timezone: str) -> Markup:
    chart = pygal.StackedBar(
        js=[],
        disable_xml_declaration=True,
        height=300,
        width=960,
        title=f"Decided by the rules per day ({timezone})",
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        x_label_rotation=0,
        style=style(OUTCOME_COLOURS),
    )
    last = len(per_day) - 1  # every other day named, today always
    chart.x_labels = [d["day"][5:] if (last - n) % 2 == 0 else "" for n, d in enumerate(per_day)]
    chart.y_labels = _counts_axis(max(sum(day[o] for o in OUTCOMES) for day in per_day))
    for outcome, name in zip(OUTCOMES, ("Approved", "Declined", "Referred"), strict=True):
        chart.add(name, [day[outcome] for day in per_day])
    return svg(chart, "Decisions by the rules per day, by outcome")


def _day(day: Mapping[str, Any]) -> dict[str, Any]:
    """A day's counts with their total and straight-through rate (None on a day of none)."""
    total = sum(day[o] for o in OUTCOMES)
    straight = total - day["refer"]
    return {**day, "total": total, "stp": straight / total if total else None}


@router.get("/console/rules/{process_id}/measures", response_class=HTMLResponse)
def process_measures(
    process_id: uuid.UUID, request: Request, principal: Reader, services: Services
) -> HTMLResponse:
    """The straight-through rate, what the rules refer and why, how often analysts
    override them, per version and reason; the rules' decisions day by day."""
    with services.context(principal) as ctx:
        process = rulesets.decision_process(ctx, process_id)
        found = measures.measures(ctx, process.id)
        days = [_day(day) for day in found.per_day]
        return page(
            request,
            "rules_measures.html",
            principal,
            process=process,
            client=_client_names(ctx, [process.client_id]).get(process.client_id, ""),
            found=found,
            days=days,
            chart=_days_chart(found.per_day, found.timezone)
            if any(day["total"] for day in days)
            else None,
            catalogue=reasons.of_process(ctx.session, process.client_id, process.id),
            now=ctx.now,
        )
