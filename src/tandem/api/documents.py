"""An item's document: opened (recorded in the audit trail), then drawn a page at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from tandem.documents import pages, service
from tandem.documents.models import Document
from tandem.http import Services, requires, uses
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["documents"])

Opening = Annotated[Context, uses(Permission.DOCUMENT_READ)]
Replacing = Annotated[Context, uses(Permission.WORK_ITEM_CREATE)]
# Drawing a page runs after the request's transaction (tandem.documents.service.drawn).
Reader = Annotated[Principal, Depends(requires(Permission.DOCUMENT_READ))]


class DocumentOpened(BaseModel):
    item_id: uuid.UUID
    document_id: uuid.UUID
    media_type: str = Field(description="application/pdf, image/tiff, image/jpeg or image/png")
    pages: int
    size: int = Field(description="Bytes")
    sha256: str
    width: float = Field(description="The first page's width, in points (1/72 inch)")
    height: float = Field(description="The first page's height, in points")
    ticket: str = Field(description="Send it with each page asked for")
    expires_at: datetime = Field(
        description="When the ticket ends at the latest: sooner when the item changes hands "
        "or state (its lease taken again, a move to review): open the document again"
    )


@router.post(
    "/work-items/{item_id}/document/openings", response_model=DocumentOpened, status_code=201
)
def open_document(item_id: uuid.UUID, ctx: Opening) -> DocumentOpened:
    """Open the item's document: for the agent holding its lease, a reviewer of it, or the
    client's own people; anyone else finds no item. Each opening is recorded in the audit
    trail, and gives the ticket its pages are drawn with."""
    opened = service.open_document(ctx, item_id)
    document = opened.document
    return DocumentOpened(
        item_id=item_id,
        document_id=document.id,
        media_type=document.media_type,
        pages=document.pages,
        size=document.size,
        sha256=document.sha256,
        width=document.width,
        height=document.height,
        ticket=opened.ticket,
        expires_at=opened.expires_at,
    )


@router.get(
    "/work-items/{item_id}/document/page",
    response_class=Response,
    responses={
        200: {
            "description": "The page, drawn",
            "content": {media_type: {} for media_type in pages.FORMATS.values()},
        }
    },
)
def document_page(
    item_id: uuid.UUID,
    principal: Reader,
    services: Services,
    ticket: Annotated[str, Query(min_length=1, max_length=200, description="From the opening")],
    number: Annotated[int, Query(ge=1, le=100_000, description="The page, from 1")] = 1,
    scale: Annotated[
        float,
        Query(
            ge=pages.MIN_SCALE,
            le=pages.MAX_SCALE,
            description="1 draws the page at 72 dots per inch",
        ),
    ] = 1.0,
    rotate: Annotated[
        int, Query(ge=0, le=270, multiple_of=90, description="Clockwise, degrees")
    ] = 0,
    format: Annotated[Literal["webp", "png"], Query()] = "webp",
) -> Response:
    """One page of the item's document as an image, for whoever holds a ticket of an
    opening of the item as it is now (403 otherwise: open it first)."""
    drawing = pages.Drawing(number, round(scale, 2), rotate, format)
    with services.context(principal) as ctx:
        source = service.page_source(ctx, item_id, ticket, drawing)
    return Response(
        service.drawn(source),
        media_type=pages.FORMATS[format],
        headers={"Cache-Control": "private, no-store"},
    )


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    work_item_id: uuid.UUID
    media_type: str
    pages: int
    size: int = Field(description="Bytes")
    sha256: str
    received_at: datetime


@router.put("/work-items/{item_id}/document", response_model=DocumentOut)
def replace_document(
    item_id: uuid.UUID,
    ctx: Replacing,
    services: Services,
    document: Annotated[
        UploadFile, File(description="PDF, TIFF, JPEG or PNG: told by its content, not its name")
    ],
) -> Document:
    """Replace an item's document (a wrong or unreadable scan), or give it one, while the
    item still waits in the queue; 409 once an agent holds it. Checked as at hand-over, kept
    sealed with your key, recorded in the audit trail with the old and new fingerprints."""
    bounds = service.limits(services.settings)
    return service.replace(ctx, item_id, document.file.read(bounds.max_bytes + 1), bounds)
