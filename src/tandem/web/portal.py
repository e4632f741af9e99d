"""The client portal: the service at a glance, handing work over (one item, or a file with a
progress bar and a per-row error report), batches followed live, results to download."""

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
from tandem.decisions import rulesets
from tandem.http import Services
from tandem.privacy.service import payload_for, result_for
from tandem.reports.kpis import client_kpis
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.forms import controls
from tandem.web.templating import page, viewer
from tandem.work import queries
from tandem.work.access import get_visible
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


@router.get("/console/portal/items/{item_id}", response_class=HTMLResponse)
def item(
    item_id: uuid.UUID, request: Request, principal: Client, services: Services
) -> HTMLResponse:
    _client_id(principal)
    with services.context(principal) as ctx:
        found: WorkItem = get_visible(ctx, item_id)
        return page(
            request,
            "portal_item.html",
            principal,
            item=found,
            payload=payload_for(ctx.session, ctx.keyring, ctx.principal, found),
            result=result_for(ctx.session, ctx.keyring, ctx.principal, found),
            events=queries.history(ctx.session, found),
        )
