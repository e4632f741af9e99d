"""Work arriving over the API: one item (idempotent) or a file."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Request, Response, UploadFile
from pydantic import BaseModel, Field

from tandem.api.work import shown
from tandem.core.errors import InvalidInput
from tandem.documents import service as documents
from tandem.documents import staging
from tandem.http import Services, requires, uses
from tandem.intake import service
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.schemas import BatchOut, WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["intake"])

Submitting = Annotated[Context, uses(Permission.WORK_ITEM_CREATE)]
# A file's intake streams its rows in transactions of its own (tandem.intake.service.ingest_file)
Submitter = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_CREATE))]


class WorkItemIn(BaseModel):
    payload: dict[str, Any]
    external_ref: str | None = Field(default=None, max_length=200)
    priority: int | None = Field(default=None, ge=-100, le=100)
    document_id: uuid.UUID | None = Field(
        default=None,
        description="A document staged for this process (POST "
        "/api/v1/processes/{process_id}/documents), which becomes the item's: each is used once",
    )


@router.post(
    "/processes/{process_id}/work-items",
    response_model=WorkItemOut,
    status_code=201,
    responses={
        200: {
            "model": WorkItemOut,
            "description": "A retry: the item created by the first request",
            "headers": {
                "Idempotent-Replayed": {
                    "required": True,
                    "schema": {"type": "string", "const": "true"},
                }
            },
        }
    },
)
def submit_work_item(
    process_id: uuid.UUID,
    body: WorkItemIn,
    response: Response,
    ctx: Submitting,
    services: Services,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> WorkItemOut:
    """Hand one work item to the provider. Send an `Idempotency-Key` header so that a retried
    request never creates a second item."""
    item, created = service.submit_item(
        ctx,
        process_id,
        body.payload,
        at_risk_fraction=services.settings.at_risk_fraction,
        external_ref=body.external_ref,
        priority=body.priority,
        idempotency_key=idempotency_key,
        staged=body.document_id,
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return shown(ctx, item)


@router.post(
    "/processes/{process_id}/work-items/with-document",
    response_model=WorkItemOut,
    status_code=201,
    responses={
        200: {
            "model": WorkItemOut,
            "description": "A retry: the item created by the first request",
            "headers": {
                "Idempotent-Replayed": {
                    "required": True,
                    "schema": {"type": "string", "const": "true"},
                }
            },
        }
    },
)
def submit_work_item_with_document(
    process_id: uuid.UUID,
    response: Response,
    ctx: Submitting,
    services: Services,
    payload: Annotated[str, Form(description="The item's payload: a JSON object")],
    document: Annotated[
        UploadFile, File(description="PDF, TIFF, JPEG or PNG: told by its content, not its name")
    ],
    external_ref: Annotated[str | None, Form(max_length=200)] = None,
    priority: Annotated[int | None, Form(ge=-100, le=100)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> WorkItemOut:
    """Hand one work item over with its document (a scanned form, say), which the agent sees
    beside the form. The document is checked by its content and size, and kept sealed with
    your key; an item and its document arrive together or not at all. Send an
    `Idempotency-Key` so that a retry never creates a second item."""
    try:
        values = json.loads(payload)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        message = "must be a JSON object"
        raise InvalidInput(
            "the payload is not a JSON object", errors=[{"field": "payload", "message": message}]
        )
    limits = documents.limits(services.settings)
    item, created = service.submit_item(
        ctx,
        process_id,
        values,
        at_risk_fraction=services.settings.at_risk_fraction,
        external_ref=external_ref,
        priority=priority,
        idempotency_key=idempotency_key,
        document=(document.file.read(limits.max_bytes + 1), limits),
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return shown(ctx, item)


class StagedDocumentOut(BaseModel):
    id: uuid.UUID = Field(
        description="Name it in an item's document_id, or a file's document column"
    )
    process_id: uuid.UUID
    media_type: str = Field(description="application/pdf, image/tiff, image/jpeg or image/png")
    pages: int
    size: int = Field(description="Bytes")
    sha256: str
    received_at: datetime
    expires_at: datetime = Field(description="Unused by then, it is refused, then purged")


async def _raw_body(request: Request) -> bytes | None:
    """The document sent as the request's body itself (any media type but a form's), or
    None for a multipart form (its `document` field)."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return None
    return await request.body()  # already read once (tandem.app's NUL check): not again


BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/processes/{process_id}/documents",
    response_model=StagedDocumentOut,
    status_code=201,
    openapi_extra={"requestBody": {"content": {"application/octet-stream": BINARY}}},
)
def stage_document(
    process_id: uuid.UUID,
    ctx: Submitting,
    services: Services,
    raw: Annotated[bytes | None, Depends(_raw_body)],
    document: Annotated[
        UploadFile | None,
        File(description="PDF, TIFF, JPEG or PNG: told by its content, not its name"),
    ] = None,
) -> StagedDocumentOut:
    """Hand a document over ahead of its item: then name its id in an item's `document_id`,
    or in a file's `document_column` (a CSV, JSONL or XLSX file, not an archive), and it
    becomes that item's. Send it as the body itself (any Content-Type: the content tells) or
    as the `document` field of a form. Checked by its content and size as a document handed
    over with its item, kept sealed with your key; used once, and purged if no item takes it
    by `expires_at` (staged_document_hours). The bytes you keep staged at once are capped
    (staged_documents_max_bytes: 422 naming the limit)."""
    settings = services.settings
    bounds = documents.limits(settings)
    if document is not None:
        data = document.file.read(bounds.max_bytes + 1)
    else:
        data = (raw or b"")[: bounds.max_bytes + 1]
    staged = staging.stage(
        ctx,
        process_id,
        data,
        bounds,
        life=timedelta(hours=settings.staged_document_hours),
        cap=settings.staged_documents_max_bytes,
    )
    assert staged.staged_for is not None and staged.staged_until is not None
    return StagedDocumentOut(
        id=staged.id,
        process_id=staged.staged_for,
        media_type=staged.media_type,
        pages=staged.pages,
        size=staged.size,
        sha256=staged.sha256,
        received_at=staged.received_at,
        expires_at=staged.staged_until,
    )


@router.post("/processes/{process_id}/batches", response_model=BatchOut, status_code=201)
def upload_batch(
    process_id: uuid.UUID,
    principal: Submitter,
    services: Services,
    file: Annotated[
        UploadFile,
        File(
            description="CSV, JSONL or XLSX, one work item per row; or a ZIP archive of one "
            "such file and the documents its rows name (document_column)"
        ),
    ],
    response: Response,
    mode: Annotated[Literal["all_or_nothing", "accept_valid"], Form()] = "all_or_nothing",
    document_column: Annotated[
        str | None,
        Form(
            max_length=200,
            description="The column naming each row's document: in a ZIP archive, its path "
            "in the archive (PDF, TIFF, JPEG or PNG); in a CSV, JSONL or XLSX file, the id of "
            "a document staged for this process (POST .../documents)",
        ),
    ] = None,
    reference_column: Annotated[
        str,
        Form(
            min_length=1,
            max_length=200,
            description="The column holding your own reference for each row (not part of "
            "the item's input; found again by ?external_ref= and in the results file)",
        ),
    ] = service.REFERENCE_COLUMN,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> service.BatchReport:
    """Queue every row of a file. `all_or_nothing` (default) rejects the whole file on one bad
    row; `accept_valid` queues the good rows. The report names each bad row and field. Send
    an `Idempotency-Key` so that a retry after a lost answer queues nothing twice: the same
    key with the same file answers with the first batch (200, `Idempotent-Replayed`), with
    another file 409. A ZIP archive brings each row's document with it: a missing or bad
    document is an error of its row, naming the column. A plain file's `document_column`
    names documents staged ahead by id: one unknown, expired, staged for another process,
    already used, or named by two rows is an error of its row, naming the column. A row's
    `reference_column` (`external_ref` unless named) is your reference for its item; each
    item keeps the number of its row, which the results file shows."""
    report = service.ingest_file(
        services.sessions,
        principal,
        process_id,
        file.file,
        filename=file.filename or "upload",
        content_type=file.content_type,
        clock=services.clock,
        at_risk_fraction=services.settings.at_risk_fraction,
        keyring=services.keyring,
        mode=mode,
        idempotency_key=idempotency_key,
        document_column=document_column,
        document_limits=documents.limits(services.settings),
        reference_column=reference_column,
    )
    if report.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    if report.status == "rejected":
        raise InvalidInput(
            f"{report.rows_rejected} of {report.rows_total} rows are invalid; nothing was queued",
            errors=report.errors,
            batch_id=str(report.id),
            rows_total=report.rows_total,
            rows_rejected=report.rows_rejected,
        )
    return report
