"""The console's page where the desk's managers keep each brand's macros (through the API):
a list of the brands, and per brand its macros beside an editor for one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tandem.http import Services
from tandem.servicedesk import brands, macros
from tandem.servicedesk.placeholders import VARIABLES
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.templating import page, viewer

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(viewer(Permission.CONVERSATION_MANAGE))]


@router.get("/console/macros", response_class=HTMLResponse)
def macro_brands(request: Request, principal: Manager, services: Services) -> HTMLResponse:
    """The brands whose macros this person keeps."""
    with services.context(principal) as ctx:
        listed = [(b.id, b.name) for b in brands.visible_brands(ctx)]
    return page(request, "macro_brands.html", principal, brands=listed)


@router.get("/console/macros/{brand_id}", response_class=HTMLResponse)
def macro_brand(
    brand_id: uuid.UUID,
    request: Request,
    principal: Manager,
    services: Services,
    macro: uuid.UUID | None = None,
) -> HTMLResponse:
    """A brand's macros, and the editor: a new one, or the one named by ?macro=."""
    with services.context(principal) as ctx:
        brand = brands.visible(ctx, brand_id)
        listed = macros.of_brand(ctx, brand_id)
        editing = macros.get(ctx, macro) if macro else None
    return page(
        request,
        "macro_brand.html",
        principal,
        brand=brand,
        macros=listed,
        editing=editing,
        variables=VARIABLES,
    )
