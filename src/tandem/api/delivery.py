"""Getting results out: batch exports and webhook subscriptions."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import select

from tandem.catalog.models import Process
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput, NotFound
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.outbox import EVENT_TYPES
from tandem.http import MAX_INT, Services, requires
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.export import MEDIA_TYPES, ExportFormat, export_rows
from tandem.work.models import Batch

router = APIRouter(prefix="/api/v1", tags=["delivery"])

Exporter = Annotated[Principal, Depends(requires(Permission.RESULT_EXPORT))]
WebhookAdmin = Annotated[Principal, Depends(requires(Permission.WEBHOOK_MANAGE))]


@router.get(
    "/batches/{batch_id}/results",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
def export_batch(
    batch_id: uuid.UUID, principal: Exporter, services: Services, format: ExportFormat = "csv"
) -> StreamingResponse:
    """Every item of the batch with its state and result, as CSV, JSONL or XLSX."""
    with transaction(services.sessions) as session:
        row = session.execute(
            select(Batch.client_id, Batch.filename, Process.form_schema)
            .join(
                Process, (Process.client_id == Batch.client_id) & (Process.id == Batch.process_id)
            )
            .where(Batch.id == batch_id, principal.client_condition(Batch.client_id))
        ).one_or_none()
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    fields = list(row.form_schema.get("properties", {}))

    def stream() -> Iterator[bytes]:
        with services.sessions() as session:
            yield from export_rows(
                session, services.keyring, row.client_id, batch_id, fields, format
            )

    return StreamingResponse(
        stream(),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.{format}"'},
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
def create_webhook(body: WebhookIn, principal: WebhookAdmin, services: Services) -> WebhookCreated:
    unknown = [e for e in body.events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            "unknown event type", errors=[{"field": "events", "message": f"unknown: {unknown}"}]
        )
    client_id = principal.client_id if principal.client_id is not None else body.client_id
    if client_id is None:
        raise InvalidInput(
            "say which client", errors=[{"field": "client_id", "message": "required"}]
        )
    secret = secrets.token_urlsafe(32)
    with transaction(services.sessions) as session:
        if session.get(Client, client_id) is None:
            raise NotFound(f"client {client_id} not found")
        hook = WebhookSubscription(
            client_id=client_id,
            url=str(body.url),
            secret=secret,
            events=body.events,
            created_at=services.clock.now(),
        )
        session.add(hook)
        session.flush()
        return WebhookCreated(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(principal: WebhookAdmin, services: Services) -> list[WebhookSubscription]:
    with transaction(services.sessions) as session:
        return list(
            session.scalars(
                select(WebhookSubscription).where(
                    principal.client_condition(WebhookSubscription.client_id)
                )
            ).all()
        )


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    webhook_id: uuid.UUID, principal: WebhookAdmin, services: Services, limit: int = 100
) -> list[WebhookDelivery]:
    with transaction(services.sessions) as session:
        return list(
            session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.subscription_id == webhook_id,
                    principal.client_condition(WebhookDelivery.client_id),
                )
                .order_by(WebhookDelivery.created_at.desc())
                .limit(min(max(limit, 1), 1000))
            ).all()
        )


@router.get("/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
def list_attempts(
    delivery_id: uuid.UUID, principal: WebhookAdmin, services: Services
) -> list[WebhookAttempt]:
    with transaction(services.sessions) as session:
        return list(
            session.scalars(
                select(WebhookAttempt)
                .where(
                    WebhookAttempt.delivery_id == delivery_id,
                    principal.client_condition(WebhookAttempt.client_id),
                )
                .order_by(WebhookAttempt.number)
            ).all()
        )
