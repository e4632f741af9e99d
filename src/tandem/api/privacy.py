"""Keys and retention, for security officers: rotate a client's key and follow the
re-encryption; set a client's retention period and read what purges removed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from tandem.core import paging
from tandem.custody import keys, preview, retention
from tandem.custody.models import KeyRotation, PurgeReport
from tandem.http import MAX_INT, Paging, paged, paged_responses, uses
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["keys and retention"])

KeyOfficer = Annotated[Context, uses(Permission.KEY_ROTATE)]
RetentionOfficer = Annotated[Context, uses(Permission.RETENTION_MANAGE)]
ClientId = Annotated[int, Path(ge=1, le=MAX_INT)]


class KeyRotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: int
    id: uuid.UUID
    target: str = Field(description="How values sealed under the new key begin")
    requested_by: str
    started_at: datetime
    resealed: int = Field(description="Items re-encrypted so far")
    finished_at: datetime | None


@router.post("/clients/{client_id}/key-rotations", response_model=KeyRotationOut, status_code=201)
def rotate_key(client_id: ClientId, ctx: KeyOfficer) -> KeyRotation:
    """Seal the client's personal data under a new key from now on; older data is
    re-encrypted in the background and stays readable meanwhile."""
    return keys.rotate(ctx, client_id)


@router.get(
    "/key-rotations", response_model=list[KeyRotationOut], responses=paged_responses("rotations")
)
def key_rotations(
    ctx: KeyOfficer, request: Request, response: Response, window: Paging
) -> list[KeyRotation]:
    return paged(request, response, paging.cut(keys.status(ctx.session), window), window)


class RetentionIn(BaseModel):
    days: int | None = Field(
        ge=1, le=36_500, description="Personal data of items done longer ago is purged; null: kept"
    )


class RetentionOut(BaseModel):
    client_id: int
    days: int | None


@router.put("/clients/{client_id}/retention", response_model=RetentionOut)
def set_retention(client_id: ClientId, body: RetentionIn, ctx: RetentionOfficer) -> RetentionOut:
    client = retention.set_retention(ctx, client_id, body.days)
    return RetentionOut(client_id=client.id, days=client.retention_days)


class PurgeReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: int
    id: uuid.UUID
    reason: str = Field(description="retention or exit (the contract ended)")
    at: datetime
    cutoff: datetime | None = Field(description="Items done before this were purged")
    counts: dict[str, Any] = Field(description="Rows anonymized or deleted, per kind")


@router.get(
    "/purge-reports", response_model=list[PurgeReportOut], responses=paged_responses("reports")
)
def purge_reports(
    ctx: RetentionOfficer, request: Request, response: Response, window: Paging
) -> list[PurgeReport]:
    return paged(request, response, paging.cut(retention.purge_reports(ctx), window), window)


class ProcessDueOut(BaseModel):
    process_id: uuid.UUID
    name: str
    items: int
    oldest: datetime = Field(description="The earliest time one of these items was done")
    newest: datetime


class PurgePreviewOut(BaseModel):
    client_id: int
    days: int | None
    cutoff: datetime | None = Field(description="Items done before this are due; null: none")
    items: int
    processes: list[ProcessDueOut]
    documents: int
    keyings: int
    webhook_deliveries: int
    conversations: int = Field(description="solved or closed before the cutoff, nothing since")
    messages: int = Field(description="their texts (the masked text stays)")
    attachments: int
    survey_comments: int
    customers: int = Field(description="whose name and addresses go: all they wrote is done")


@router.get("/clients/{client_id}/purge-preview", response_model=PurgePreviewOut)
def purge_preview(client_id: ClientId, ctx: RetentionOfficer) -> PurgePreviewOut:
    """What a purge of the client's personal data would remove now, per process; nothing is
    changed."""
    seen = preview.purge_preview(ctx, client_id)
    return PurgePreviewOut(
        client_id=seen.client_id,
        days=seen.days,
        cutoff=seen.cutoff,
        items=seen.items,
        processes=[ProcessDueOut(**vars(process)) for process in seen.processes],
        documents=seen.documents,
        keyings=seen.keyings,
        webhook_deliveries=seen.webhook_deliveries,
        conversations=seen.conversations,
        messages=seen.messages,
        attachments=seen.attachments,
        survey_comments=seen.survey_comments,
        customers=seen.customers,
    )


def _in_utc(at: datetime) -> datetime:
    try:
        return at.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of Greenwich, 9999-12-31 west of it
        raise ValueError("out of range") from None


class PurgeIn(BaseModel):
    cutoff: Annotated[AwareDatetime, AfterValidator(_in_utc)] = Field(
        description="The preview's cutoff: items done before it are purged (never later than "
        "the retention period allows)"
    )


class PurgeOut(BaseModel):
    report: PurgeReportOut | None = Field(description="null: nothing was due")
    remaining: int = Field(description="Items still due (purged by the worker or again here)")


@router.post("/clients/{client_id}/purges", response_model=PurgeOut)
def purge_now(client_id: ClientId, body: PurgeIn, ctx: RetentionOfficer) -> PurgeOut:
    """Purge now what the preview showed, rather than at the worker's next pass; audited as
    the caller, with a purge report."""
    done = preview.purge_now(ctx, client_id, body.cutoff)
    report = PurgeReportOut.model_validate(done.report) if done.report else None
    return PurgeOut(report=report, remaining=done.remaining)
