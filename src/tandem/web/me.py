"""A person's own settings: the time zone their times are shown in, and their password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tandem.core.db import transaction
from tandem.http import Services
from tandem.tenancy.models import User
from tandem.tenancy.principal import Principal
from tandem.web.templating import page, signed_in
from tandem.workforce.zones import default_zone, known_zones

router = APIRouter(include_in_schema=False)

Anyone = Annotated[Principal, Depends(signed_in)]


@router.get("/console/me", response_class=HTMLResponse)
def settings(request: Request, principal: Anyone, services: Services) -> HTMLResponse:
    with transaction(services.sessions) as session:
        user = session.get(User, principal.user_id)
        default = default_zone(session, principal).key
    return page(
        request,
        "me.html",
        principal,
        chosen=user.time_zone if user else None,
        default=default,
        zones=known_zones(),
        email=user.email if user else "",
        person=user.name if user else "",
    )
