"""Satisfaction surveys' pages: the customer's survey (/s/<token> from the mail, or
/c/<link>/survey from their conversation's own link), and the figures per brand, agent and
ISO week for the client's people (the portal) and the provider's staff.

The survey is a public page as the help pages are (tandem.web.helpdesk): counted per client
address, posted only from itself, no script, kept out of caches. Opening it records nothing
(link scanners open links): only the posted answer counts, once."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.http import Services, public
from tandem.servicedesk import satisfaction, surveys
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.helpdesk import _as_client, _counted, _form, _found, _private
from tandem.web.templating import page, viewer

router = APIRouter(include_in_schema=False)

SURVEY = "a customer's satisfaction survey, opened by the secret link only they were given"
WEEKS = 12
Reader = Annotated[Principal, Depends(viewer(Permission.SATISFACTION_READ))]
# What a survey's state says to its customer, and the status its page answers with.
CLOSED = {
    "expired": ("This survey has expired", 410),
    "withdrawn": ("This survey was replaced by a newer one, or closed", 410),
}


def _at_token(services: Container, token: str) -> tuple[int, uuid.UUID]:
    with transaction(services.sessions) as session:
        found = surveys.at_token(session, token)
    if found is None:
        raise NotFound("there is no survey at this link")
    return found


def _at_link(services: Container, link: str) -> tuple[int, uuid.UUID]:
    client_id, conversation_id = _found(services, link)
    with transaction(services.sessions) as session:
        survey_id = surveys.standing_at_link(session, client_id, conversation_id)
    if survey_id is None:
        raise NotFound("there is no survey for this conversation yet")
    return client_id, survey_id


def _shown(
    request: Request,
    services: Container,
    found: tuple[int, uuid.UUID],
    path: str,
    status: int = 200,
    **context: object,
) -> Response:
    client_id, survey_id = found
    asked = _as_client(services, client_id, surveys.question, client_id, survey_id)
    closed = CLOSED.get(asked.state)
    return _private(
        page(
            request,
            "help_survey.html",
            None,
            closed[1] if closed and status == 200 else status,
            question=asked,
            closed=closed[0] if closed else None,
            path=path,
            labels=satisfaction.RATING_LABELS,
            errors=context.pop("errors", {}),
            **context,
        )
    )


async def _answered(
    request: Request, services: Container, found: tuple[int, uuid.UUID], path: str
) -> Response:
    form = await _form(request)
    client_id, survey_id = found
    try:
        await run_in_threadpool(
            _as_client,
            services,
            client_id,
            surveys.answer,
            client_id,
            survey_id,
            form.get("rating", ""),
            form.get("comment", ""),
        )
    except InvalidInput as refused:
        errors = {e["field"]: e["message"] for e in refused.extra.get("errors", [])}
        return await run_in_threadpool(
            _shown, request, services, found, path, 422, errors=errors, comment=form.get("comment")
        )
    except Conflict as refused:
        return await run_in_threadpool(
            _shown, request, services, found, path, 409, notice=refused.detail
        )
    return _private(RedirectResponse(path, status_code=303))


@router.get("/s/{token}", response_class=HTMLResponse)
def survey(
    token: str, request: Request, services: Services, _: Annotated[None, Depends(public(SURVEY))]
) -> Response:
    """The question (or the thanks, once answered); records nothing."""
    _counted(request, services)
    return _shown(request, services, _at_token(services, token), f"/s/{token}")


@router.post("/s/{token}", response_model=None)
async def answer(
    token: str, request: Request, services: Services, _: Annotated[None, Depends(public(SURVEY))]
) -> Response:
    """The customer's answer, taken once; then back to the survey's page, now thanking."""
    _counted(request, services)
    found = await run_in_threadpool(_at_token, services, token)
    return await _answered(request, services, found, f"/s/{token}")


@router.get("/c/{link}/survey", response_class=HTMLResponse)
def survey_at_link(
    link: str, request: Request, services: Services, _: Annotated[None, Depends(public(SURVEY))]
) -> Response:
    """The conversation's survey, asked at the customer's own link."""
    _counted(request, services)
    return _shown(request, services, _at_link(services, link), f"/c/{link}/survey")


@router.post("/c/{link}/survey", response_model=None)
async def answer_at_link(
    link: str, request: Request, services: Services, _: Annotated[None, Depends(public(SURVEY))]
) -> Response:
    _counted(request, services)
    found = await run_in_threadpool(_at_link, services, link)
    return await _answered(request, services, found, f"/c/{link}/survey")


def _report(request: Request, principal: Principal, services: Container) -> HTMLResponse:
    with services.context(principal) as ctx:
        since, until = satisfaction.last_weeks(ctx.now, WEEKS)
        found = surveys.report(ctx, since, until)
        return page(request, "portal_satisfaction.html", principal, report=found, weeks=WEEKS)


@router.get("/console/portal/satisfaction", response_class=HTMLResponse)
def portal_report(request: Request, principal: Reader, services: Services) -> HTMLResponse:
    """The client's satisfaction per brand, agent and ISO week, the last 12 weeks."""
    if principal.client_id is None:
        raise NotFound("the portal is a client's: provider staff see /console/satisfaction")
    return _report(request, principal, services)


@router.get("/console/satisfaction", response_class=HTMLResponse)
def staff_report(request: Request, principal: Reader, services: Services) -> HTMLResponse:
    """The same figures for the provider's staff, every client's brands."""
    return _report(request, principal, services)
