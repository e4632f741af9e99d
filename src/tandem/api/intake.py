"""Work arriving over the API: one item (idempotent) or a file."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Response, UploadFile
from pydantic import BaseModel, Field

from tandem.api.work import shown
from tandem.core.errors import InvalidInput
from tandem.documents import service as documents
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
            description="In an archive: the column holding each row's document, by its path "
            "in the archive (PDF, TIFF, JPEG or PNG)",
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
    document is an error of its row, naming the column. A row's `reference_column`
    (`external_ref` unless named) is your reference for its item; each item keeps the
    number of its row, which the results file shows."""
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
