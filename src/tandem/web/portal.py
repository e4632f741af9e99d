"""The client portal: the service at a glance, handing work over (one item, or a file with a
progress bar and a per-row error report), batches followed live, results to download, and a
delivered result sent back to be redone (the client's rejection)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.catalog.service import get_process, list_processes
from tandem.core.errors import NotFound
from tandem.decisions import reasons, rulesets
from tandem.decisions.referrals import item_decisions
from tandem.documents import service as documents
from tandem.http import Services
from tandem.privacy.service import payload_for, result_for
from tandem.quality.policy import policy_of
from tandem.reports.kpis import client_kpis
from tandem.tenancy import models as tenancy
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.finding import FindForm, Finding, pages
from tandem.web.forms import controls
from tandem.web.templating import page, viewer
from tandem.work import queries
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import Batch, WorkItem

router = APIRouter(include_in_schema=False)

Client = Annotated[Principal, Depends(viewer(Permission.WORK_ITEM_CREATE))]
PERIOD = timedelta(days=30)
RECENT = 20


def _client_id(principal: Principal) -> int:
    if principal.client_id is None:
        raise NotFound("the portal is a client's: sign in as one of the client's people")
    return principal.client_id


@router.get("/console/portal", response_class=HTMLResponse)
def portal(request: Request, principal: Client, services: Services) -> HTMLResponse:
    client_id = _client_id(principal)
    with services.context(principal) as ctx:
        return page(
            request,
            "portal.html",
            principal,
            now=ctx.now,
            kpis=client_kpis(ctx, client_id, period=PERIOD),
            currency=ctx.session.get_one(tenancy.Client, client_id).currency,
            processes=list_processes(ctx),
            batches=_batches(ctx.session, client_id),
            items=queries.latest(ctx.session, client_id, RECENT),
        )


@router.get("/console/portal/batches", response_class=HTMLResponse)
def batches(request: Request, principal: Client, services: Services) -> HTMLResponse:
    """The batches table alone: the portal page refreshes it while batches are open."""
    client_id = _client_id(principal)
    with services.context(principal) as ctx:
        rows = _batches(ctx.session, client_id)
        return page(request, "_batches.html", principal, batches=rows)


@router.get("/console/portal/batches/{batch_id}", response_class=HTMLResponse)
def batch(
    batch_id: uuid.UUID, request: Request, principal: Client, services: Services
) -> HTMLResponse:
    """A file handed over: how far its items are (x of y delivered), its error report (open
    again whenever needed), its results to download with the input columns chosen beside
    them, and its items to find."""
    _client_id(principal)
    with services.context(principal) as ctx:
        found = queries.get_batch(ctx, batch_id)
        process = get_process(ctx, found.process_id)
        states = queries.batch_progress(ctx.session, found)
        return page(
            request,
            "portal_batch.html",
            principal,
            batch=found,
            process=process,
            states=states,
            delivered=states.get(State.DELIVERED.value, 0),
            items=sum(states.values()),
            columns=list(process.input_schema.get("properties", {})),
        )


def _batches(session: Session, client_id: int) -> list[Batch]:
    return list(
        session.scalars(
            select(Batch)
            .where(Batch.client_id == client_id)
            .order_by(Batch.created_at.desc())
            .limit(RECENT)
        )
    )


@router.get("/console/portal/processes/{process_id}", response_class=HTMLResponse)
def hand_over(
    process_id: uuid.UUID, request: Request, principal: Client, services: Services
) -> HTMLResponse:
    """One item by form, or a whole file."""
    _client_id(principal)
    with services.context(principal) as ctx:
        process = get_process(ctx, process_id)
        # A decision process's rules: each version, its status and how its result is read.
        versions = rulesets.list_versions(ctx, process.id) if process.kind == "decision" else []
        versions.reverse()  # newest first
        return page(
            request,
            "portal_process.html",
            principal,
            process=process,
            controls=controls(process.input_schema),
            columns=list(process.input_schema.get("properties", {})),
            versions=versions,
        )


SORTS: dict[str, str] = {
    "-received": "Newest first",
    "received": "Oldest first",
    "due": "Due soonest",
    "-delivered": "Delivered latest",
}
FIND_FIELDS = ("ref", "state", "process", "batch", "received_from", "received_to", "sort", "page")


def _finding(request: Request) -> Finding:
    typed = FindForm(request, FIND_FIELDS)
    search = queries.ItemSearch(
        external_ref=typed.form["ref"] or None,
        states=typed.state(),
        process_id=typed.id("process"),
        batch_id=typed.id("batch"),
        received_from=typed.day("received_from"),
        received_to=typed.day("received_to", through=True),
    )
    return typed.finding(search, SORTS, "-received")


@router.get("/console/portal/items", response_class=HTMLResponse)
def find_items(request: Request, principal: Client, services: Services) -> HTMLResponse:
    """Find the client's items by its own reference, state, process, file and arrival,
    sorted, a page at a time with how many match."""
    client_id = _client_id(principal)
    finding = _finding(request)
    with services.context(principal) as ctx:
        found = queries.find(
            ctx,
            finding.search,
            sort=finding.sort,
            window=finding.window,
        )
        processes = list_processes(ctx)
        return page(
            request,
            "portal_items.html",
            principal,
            finding=finding,
            found=found,
            first=finding.offset + 1,
            pages=pages(found.total),
            processes=processes,
            process_names={process.id: process.name for process in processes},
            batches=_batches(ctx.session, client_id),
            states=list(State),
            sorts=SORTS,
        )


# What the item page says after an action, by the word its script puts in the address
# (never the address's own text: nothing a link carries is shown).
ITEM_NOTICES = {
    "rejected": "Sent back: the result is redone by the new due time, and reviewed before "
    "it is delivered again.",
}


@router.get("/console/portal/items/{item_id}", response_class=HTMLResponse)
def item(
    item_id: uuid.UUID,
    request: Request,
    principal: Client,
    services: Services,
    done: str | None = None,
) -> HTMLResponse:
    """An item, its result, its history; a delivered result may be rejected here by those
    who may reject results (as the API's POST /work-items/{id}/reject: it is what the
    form calls)."""
    _client_id(principal)
    with services.context(principal) as ctx:
        found: WorkItem = get_visible(ctx, item_id)
        process = get_process(ctx, found.process_id)
        rejectable = (
            found.state == "delivered" and Permission.RESULT_REJECT in principal.permissions
        )
        criteria = policy_of(ctx.session, found.client_id, found.process_id).criteria
        # A decision process's item: each decision on it, the rules' reasons in words.
        decisions = (
            item_decisions(ctx.session, found.client_id, found.id)
            if process.kind == "decision"
            else []
        )
        return page(
            request,
            "portal_item.html",
            principal,
            item=found,
            process=process,
            payload=payload_for(ctx.session, ctx.keyring, ctx.principal, found),
            result=result_for(ctx.session, ctx.keyring, ctx.principal, found),
            events=queries.history(ctx.session, found),
            rejectable=rejectable,
            criteria=criteria if rejectable else (),
            document=documents.of_item(ctx.session, found.client_id, found.id),
            notice=ITEM_NOTICES.get(done or ""),
            decisions=decisions,
            decision_reasons=reasons.of_decisions(ctx.session, decisions),
        )
