"""An agent's own page, "My schedule": their shifts for the next two weeks in their center's
time (the published roster's where one decides, else their weekly shifts), and their shift
requests: a form to ask for a day off or a start, and a button to withdraw one (both through
the API, /api/v1/me/shift-requests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tandem.http import Services
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.templating import page, viewer
from tandem.workforce import shift_requests

router = APIRouter(include_in_schema=False)

# Whoever claims work; without an agent profile the use case answers 403.
Agent = Annotated[Principal, Depends(viewer(Permission.WORK_CLAIM))]


@router.get("/console/me/schedule", response_class=HTMLResponse)
def my_schedule(request: Request, principal: Agent, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        found = shift_requests.my_schedule(ctx)
    return page(
        request,
        "me_schedule.html",
        principal,
        schedule=found,
        per_week=shift_requests.MAX_PER_WEEK,
        most_note=shift_requests.MAX_NOTE,
    )
