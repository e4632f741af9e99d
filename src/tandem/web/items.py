"""Work items for the provider's staff: find them (by reference, client, process, state, SLA
and dates, sorted, a page at a time with how many match) and act on a selection in bulk;
one item with its SLA, lease and history, and what operations may do to it (hold, resume,
reprioritize, take the lease back, reassign, cancel). Every action calls the API
(/api/v1/work-items/...), where it is permissioned and audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tandem.core.errors import NotFound
from tandem.decisions import reasons
from tandem.decisions.referrals import item_decisions
from tandem.http import Services
from tandem.reports.items import names, staff_item
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.templating import page, viewer
from tandem.work import bulk, queries
from tandem.work.lifecycle import State, allowed_targets

router = APIRouter(include_in_schema=False)

Staff = Annotated[Principal, Depends(viewer(Permission.WORK_ITEM_READ))]
PAGE_SIZE = 50
OPEN = tuple(state for state in State if state not in (State.DELIVERED, State.CANCELLED))
SORTS: dict[str, str] = {
    "due": "Due soonest (as agents get them)",
    "-due": "Due latest",
    "priority": "Highest priority first",
    "-received": "Newest first",
    "received": "Oldest first",
    "-delivered": "Delivered latest",
}
SLAS: dict[str, str] = {
    "at_risk": "At risk (breached included)",
    "breached": "Breached",
    "on_track": "On track",
}
FIELDS = (
    "ref",
    "client",
    "process",
    "state",
    "sla",
    "received_from",
    "received_to",
    "due_before",
    "sort",
    "page",
)


def _staff(principal: Principal) -> None:
    if principal.client_id is not None:
        raise NotFound("these pages are the provider's: your items are in the portal")


@dataclass
class Finding:
    """The find form as typed, what it searches for, and what in it could not be read."""

    form: dict[str, str]
    search: queries.ItemSearch
    sort: queries.Sort
    page: int
    errors: dict[str, str]


def _finding(request: Request) -> Finding:
    """Reads the find form (a GET: the address can be shared, and the floor links to it); a
    value that cannot be read is named beside its field and left out of the search."""
    form = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    if not request.query_params:  # the page as first opened: the work still to do
        form["state"] = "open"
    errors: dict[str, str] = {}
    states: tuple[State, ...] = ()
    if form["state"] == "open":
        states = OPEN
    elif form["state"]:
        try:
            states = (State(form["state"]),)
        except ValueError:
            errors["state"] = "not a state an item can be in"
    client_id = None
    if form["client"]:
        try:
            client_id = int(form["client"])
        except ValueError:
            errors["client"] = "not one of the choices"
    process_id = None
    if form["process"]:
        try:
            process_id = uuid.UUID(form["process"])
        except ValueError:
            errors["process"] = "not one of the choices"
    at_risk = breached = None
    if form["sla"] == "at_risk":
        at_risk = True
    elif form["sla"] == "breached":
        breached = True
    elif form["sla"] == "on_track":
        at_risk = breached = False
    elif form["sla"]:
        errors["sla"] = "not one of the choices"
    days: dict[str, datetime | None] = {}
    for name in ("received_from", "received_to", "due_before"):
        days[name] = None
        if form[name]:
            try:
                day = date.fromisoformat(form[name])
            except ValueError:
                errors[name] = "a date as 2026-12-31"
            else:  # "up to" a day includes it; "before" a day does not
                shift = timedelta(days=1) if name == "received_to" else timedelta()
                days[name] = datetime.combine(day, time(), request.state.zone) + shift
    sort = form["sort"] or "due"
    if sort not in SORTS:
        errors["sort"], sort = "not one of the choices", "due"
    try:
        number = max(1, int(form["page"] or 1))
    except ValueError:
        number = 1
    search = queries.ItemSearch(
        external_ref=form["ref"] or None,
        client_id=client_id,
        process_id=process_id,
        states=states,
        at_risk=at_risk,
        breached=breached,
        received_from=days["received_from"],
        received_to=days["received_to"],
        due_before=days["due_before"],
    )
    return Finding(form, search, cast(queries.Sort, sort), number, errors)


@router.get("/console/items", response_class=HTMLResponse)
def find_items(request: Request, principal: Staff, services: Services) -> HTMLResponse:
    _staff(principal)
    finding = _finding(request)
    with services.context(principal) as ctx:
        found = queries.find(
            ctx,
            finding.search,
            sort=finding.sort,
            limit=PAGE_SIZE,
            offset=(finding.page - 1) * PAGE_SIZE,
        )
        named = names(ctx.session)
    return page(
        request,
        "items.html",
        principal,
        now=ctx.now,
        finding=finding,
        found=found,
        first=(finding.page - 1) * PAGE_SIZE + 1,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        names=named,
        states=list(State),
        sorts=SORTS,
        slas=SLAS,
        operates=Permission.WORK_ITEM_OPERATE in principal.permissions,
        bulk_actions=bulk.ACTIONS,
        max_items=bulk.MAX_ITEMS,
        priority_range=bulk.PRIORITY_RANGE,
        sees_floor=Permission.OPERATIONS_READ in principal.permissions,
    )


# What the item page says after an action, by the word its script puts in the address
# (never the address's own text: nothing a link carries is shown).
NOTICES = {
    "hold": "Put on hold: its SLA clock is paused.",
    "resume": "Queued again: its SLA clock runs with the time it had left.",
    "priority": "Priority set.",
    "release": "Taken back to its queue: its agent no longer holds it.",
    "assign": "Leased to the agent: they find it among the items they hold.",
    "reroute": "Moved to the other queue.",
    "cancel": "Cancelled.",
}


@router.get("/console/items/{item_id}", response_class=HTMLResponse)
def item_page(
    item_id: uuid.UUID,
    request: Request,
    principal: Staff,
    services: Services,
    done: str | None = None,
) -> HTMLResponse:
    _staff(principal)
    operates = Permission.WORK_ITEM_OPERATE in principal.permissions
    manages = Permission.WORK_ITEM_MANAGE in principal.permissions
    with services.context(principal) as ctx:
        seen = staff_item(ctx, item_id, with_choices=operates)
        # A decision process's item: the rules' and analysts' decisions, reasons in words.
        decisions = item_decisions(ctx.session, seen.item.client_id, seen.item.id)
        decision_reasons = reasons.of_decisions(ctx.session, decisions)
    item = seen.item
    targets = allowed_targets(State(item.state))
    due_local = item.due_at.astimezone(ZoneInfo(seen.client_timezone))
    return page(
        request,
        "item.html",
        principal,
        now=ctx.now,
        seen=seen,
        item=item,
        due_local=due_local,
        left=_left(item.due_at - ctx.now),
        paused=_left(timedelta(seconds=item.sla_paused_remaining_s or 0)),
        paused_overdue=(item.sla_paused_remaining_s or 0) < 0,
        can={
            "hold": manages and State.WAITING in targets,
            "resume": manages and item.state == State.WAITING.value,
            "cancel": manages and State.CANCELLED in targets,
            "priority": operates and seen.open,
            "release": operates and item.state == State.LEASED.value,
            "assign": operates and State(item.state) in (State.QUEUED, State.LEASED, State.REWORK),
            "reroute": operates
            and item.state in (State.QUEUED.value, State.WAITING.value, State.LEASED.value),
        },
        priority_range=bulk.PRIORITY_RANGE,
        notice=NOTICES.get(done or ""),
        sees_floor=Permission.OPERATIONS_READ in principal.permissions,
        decisions=decisions,
        decision_reasons=decision_reasons,
    )


def _left(span: timedelta) -> str:
    """A span as people read it: 2d 3h, 3h 05m, 12m."""
    minutes = int(abs(span).total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"
