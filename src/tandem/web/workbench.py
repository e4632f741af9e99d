"""Signing in, and the agent's workbench: the next item by one click or key, the item (and its
document) beside its form, submit or release, the lease kept alive while the page is open. A
conversation's item opens as the conversation (the service desk): its thread, the customer
as the agent may see them and their other conversations, and a composer for the reply or an
internal note (static/conversation.js, through /api/v1/conversations/...)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tandem.catalog.models import Process
from tandem.catalog.service import personal_view
from tandem.core.db import transaction
from tandem.core.errors import Unauthorized
from tandem.documents import service as documents
from tandem.http import SESSION_COOKIE, Services, current_principal, public
from tandem.privacy.service import result_for, staff_view
from tandem.quality.reviews import sent_back_notes
from tandem.servicedesk import macros
from tandem.servicedesk import views as conversations
from tandem.servicedesk.placeholders import VARIABLES
from tandem.tenancy import signin
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.vault.masking import is_masked
from tandem.web.forms import controls
from tandem.web.templating import page, same_origin_path, sections_of, sign_in_url, viewer
from tandem.work import access
from tandem.work.models import WorkItem
from tandem.workforce import presence

router = APIRouter(include_in_schema=False)

Agent = Annotated[Principal, Depends(viewer(Permission.WORK_CLAIM))]


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    request: Request,
    _: Annotated[None, Depends(public("signing in is how one becomes known"))],
    next: str = "/console",
) -> HTMLResponse:
    return page(request, "sign_in.html", None, next=same_origin_path(next))


@router.post("/sign-out")
def sign_out(
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public("anyone may end their own session"))],
) -> Response:
    if cookie := request.cookies.get(SESSION_COOKIE):
        with transaction(services.sessions) as session:
            presence.signing_out(session, cookie, services.clock.now())
            signin.sign_out(session, cookie, now=services.clock.now())
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/console")
def home(
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public("sends each person to their first section"))],
) -> Response:
    """Each person's first section; the sign-in page for someone not signed in."""
    try:
        principal = current_principal(request, services)
    except Unauthorized:
        return RedirectResponse(sign_in_url("/console"), status_code=303)
    sections = sections_of(principal)
    if sections:
        return RedirectResponse(sections[0][1], status_code=303)
    return page(request, "nothing.html", principal)


@router.get("/console/work", response_class=HTMLResponse)
def work(request: Request, principal: Agent, services: Services) -> HTMLResponse:
    idle = timedelta(minutes=services.settings.session_idle_minutes)
    with services.context(principal) as ctx:
        held = services.dispatcher.held(ctx.session, principal.agent())
        leases = [(item.id, item.routing_key, item.due_at) for item in held]
        now_present = presence.current(ctx.session, principal.agent(), now=ctx.now, idle=idle)
    return page(request, "work.html", principal, leases=leases, now=ctx.now, presence=now_present)


@router.post("/console/work/presence")
def set_presence(
    request: Request,
    principal: Agent,
    services: Services,
    state: Annotated[str, Form(max_length=12)],
) -> Response:
    """The workbench's button: take a break, or come back (a form; the cookie's same-origin
    check is the console's guard against forged posts)."""
    idle = timedelta(minutes=services.settings.session_idle_minutes)
    with services.context(principal) as ctx:
        presence.set_presence(ctx, state, means="console", idle=idle)
    services.dispatcher.forget_agent(principal.agent())  # committed: claims read it afresh
    return RedirectResponse("/console/work", status_code=303)


@router.get("/console/work/{item_id}", response_model=None)
def leased_item(
    item_id: uuid.UUID, request: Request, principal: Agent, services: Services
) -> Response:
    """An item leased to the agent now, beside its result form; a referral goes to the
    analyst desk, where it is judged (the rules' advice, four eyes), not keyed."""
    with services.context(principal) as ctx:
        session = ctx.session
        item = access.held(session, principal.agent(), item_id, now=ctx.now)
        process = session.get_one(Process, (item.client_id, item.process_id))
        if process.kind == "decision":
            return RedirectResponse(f"/console/referrals/{item_id}", status_code=303)
        if process.kind == "conversation" and (conversation := conversations.for_item(ctx, item)):
            return page(
                request,
                "conversation.html",
                principal,
                item=item,
                process=process,
                conversation=conversation,
                others=conversations.of_customer(ctx, conversation.id),
                macros=macros.of_conversation(ctx, conversation.id),
                variables=VARIABLES,
                lease_seconds=services.settings.lease_seconds,
                now=ctx.now,
            )
        payload = staff_view(session, ctx.keyring, item, agent=True)
        fields, visible = personal_view(session, item.client_id, item.process_id)
        masked = {name for name, category in fields.items() if category not in visible}
        notes = sent_back_notes(session, item) if item.recheck else None
        document = documents.of_item(session, item.client_id, item.id)  # opened by the page
        return page(
            request,
            "leased_item.html",
            principal,
            item=item,
            process=process,
            payload=payload,
            masked=masked if Permission.PERSONAL_REVEAL in principal.permissions else set(),
            hidden=masked,
            controls=controls(process.form_schema),
            earlier=_earlier(ctx, item),
            notes=notes,
            document=document,
            lease_seconds=services.settings.lease_seconds,
            now=ctx.now,
        )


def _earlier(ctx: Context, item: WorkItem) -> Any:
    """A sent-back item's earlier result, to fill the form with: without masked values,
    which are not values to hand in again (the agent keys those afresh)."""
    if not item.recheck:
        return None
    earlier = result_for(ctx.session, ctx.keyring, ctx.principal, item) or {}
    return {name: value for name, value in earlier.items() if not is_masked(value)}
