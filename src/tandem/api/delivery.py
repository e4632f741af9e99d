"""Getting results out: batch exports and webhook subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from tandem.core import paging
from tandem.delivery import subscriptions
from tandem.delivery.addresses import networks
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.outbox import EVENT_TYPES
from tandem.http import MAX_INT, Paging, Services, paged, paged_responses, uses
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.work.export import (
    MAX_INPUT_COLUMNS,
    MEDIA_TYPES,
    ExportFormat,
    batch_export,
    export_rows,
)

router = APIRouter(prefix="/api/v1", tags=["delivery"])

Exporting = Annotated[Context, uses(Permission.RESULT_EXPORT)]
ManagingWebhooks = Annotated[Context, uses(Permission.WEBHOOK_MANAGE)]


@router.get(
    "/batches/{batch_id}/results",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
def export_batch(
    batch_id: uuid.UUID,
    ctx: Exporting,
    services: Services,
    format: ExportFormat = "csv",
    columns: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_INPUT_COLUMNS,
            description="Input columns of the file's rows to put beside the result "
            "(repeat for several): `input.<name>` columns, an `input` object in JSON Lines",
        ),
    ] = None,
) -> StreamingResponse:
    """Every item of the batch with its state and result, as CSV, JSONL or XLSX, named
    after the uploaded file; in XLSX times (UTC), the result's dates, numbers and yes/no
    are typed."""
    export = batch_export(ctx, batch_id, columns or ())

    def stream() -> Iterator[bytes]:
        # Sent after the route's transaction has ended: the rows are read in a session of
        # their own, page by page, as the client takes them.
        with services.sessions() as session:
            yield from export_rows(session, services.keyring, export, format)

    return StreamingResponse(
        stream(),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": export.content_disposition(format)},
    )


class WebhookIn(BaseModel):
    url: AnyHttpUrl
    events: list[str] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1)
    client_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="Provider staff only: whose hook"
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: verify the Tandem-Signature header with it")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    work_item_id: uuid.UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookIn, ctx: ManagingWebhooks, services: Services) -> WebhookCreated:
    allowed = networks(services.settings.webhook_allowed_networks)
    hook = subscriptions.subscribe(ctx, str(body.url), body.events, body.client_id, allowed=allowed)
    return WebhookCreated(**WebhookOut.model_validate(hook).model_dump(), secret=hook.secret)


@router.get("/webhooks", response_model=list[WebhookOut], responses=paged_responses("webhooks"))
def list_webhooks(
    ctx: ManagingWebhooks, request: Request, response: Response, window: Paging
) -> list[WebhookSubscription]:
    return paged(request, response, paging.cut(subscriptions.subscriptions(ctx), window), window)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=paged_responses("deliveries"),
)
def list_deliveries(
    webhook_id: uuid.UUID,
    ctx: ManagingWebhooks,
    request: Request,
    response: Response,
    window: Paging,
) -> list[WebhookDelivery]:
    """The webhook's events sent or to send, the latest first."""
    return paged(request, response, subscriptions.deliveries(ctx, webhook_id, window), window)


@router.get(
    "/webhook-deliveries/{delivery_id}/attempts",
    response_model=list[AttemptOut],
    responses=paged_responses("attempts"),
)
def list_attempts(
    delivery_id: uuid.UUID,
    ctx: ManagingWebhooks,
    request: Request,
    response: Response,
    window: Paging,
) -> list[WebhookAttempt]:
    found = paging.cut(subscriptions.attempts(ctx, delivery_id), window)
    return paged(request, response, found, window)
