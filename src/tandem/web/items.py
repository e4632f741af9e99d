"""Work items for the provider's staff: find them (by reference, client, process, state, SLA
and dates, sorted, a page at a time with how many match) and act on a selection in bulk;
one item with its SLA, lease and history, and what operations may do to it (hold, resume,
reprioritize, take the lease back, reassign, cancel). Every action calls the API
(/api/v1/work-items/...), where it is permissioned and audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated
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
from tandem.web.finding import CHOICES, FindForm, Finding, pages
from tandem.web.templating import page, viewer
from tandem.work import bulk, queries
from tandem.work.lifecycle import State, allowed_targets

router = APIRouter(include_in_schema=False)

Staff = Annotated[Principal, Depends(viewer(Permission.WORK_ITEM_READ))]
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


def _finding(request: Request) -> Finding:
    """The floor links here with a search; the page as first opened: the work still to do."""
    typed = FindForm(request, FIELDS)
    if not request.query_params:
        typed.form["state"] = "open"
    states = OPEN if typed.form["state"] == "open" else typed.state()
    sla = typed.form["sla"]
    if sla and sla not in SLAS:
        typed.errors["sla"] = CHOICES
    search = queries.ItemSearch(
        external_ref=typed.form["ref"] or None,
        client_id=typed.number("client"),
        process_id=typed.id("process"),
        states=states,
        at_risk=True if sla == "at_risk" else False if sla == "on_track" else None,
        breached=True if sla == "breached" else False if sla == "on_track" else None,
        received_from=typed.day("received_from"),
        received_to=typed.day("received_to", through=True),
        due_before=typed.day("due_before"),
    )
    return typed.finding(search, SORTS, "due")


@router.get("/console/items", response_class=HTMLResponse)
def find_items(request: Request, principal: Staff, services: Services) -> HTMLResponse:
    _staff(principal)
    finding = _finding(request)
    with services.context(principal) as ctx:
        found = queries.find(
            ctx,
            finding.search,
            sort=finding.sort,
            window=finding.window,
        )
        named = names(ctx.session)
    return page(
        request,
        "items.html",
        principal,
        now=ctx.now,
        finding=finding,
        found=found,
        first=finding.offset + 1,
        pages=pages(found.total),
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
