"""The audit trail for security officers and auditors: check it, export it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from tandem.audit import service
from tandem.audit.models import PROVIDER
from tandem.http import MAX_INT, MIN_INT, Services, uses
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.work.trail import verify_trail

router = APIRouter(prefix="/api/v1", tags=["audit"])

Auditing = Annotated[Context, uses(Permission.AUDIT_READ)]


class FindingOut(BaseModel):
    client_id: int
    seq: int
    problem: str
    detail: str


class CheckOut(BaseModel):
    chains: int
    intact: bool
    findings: list[FindingOut]


@router.get("/audit/check", response_model=CheckOut)
def check_trail(
    ctx: Auditing, client_id: Annotated[int | None, Query(ge=MIN_INT, le=MAX_INT)] = None
) -> CheckOut:
    """Every chain (or one client's) checked from its first record, and the sealed
    windows of item state changes recomputed."""
    found = verify_trail(ctx.session, ctx.audit_key, client_id)
    findings = [
        FindingOut(client_id=client, seq=f.seq, problem=f.problem, detail=f.detail)
        for client, listed in found.items()
        for f in listed
    ]
    return CheckOut(chains=len(found), intact=not findings, findings=findings)


@router.get(
    "/audit/records",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def export_trail(
    ctx: Auditing,
    services: Services,
    client_id: Annotated[
        int,
        Query(ge=MIN_INT, le=MAX_INT, description=f"{PROVIDER} for the provider's own chain"),
    ],
    file_format: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
) -> StreamingResponse:
    """One chain as JSON Lines or CSV, in order, with its links, as a file named for the
    chain and the day (audit-insurer-2026-03-04.csv). The export is itself audited (in the
    provider's chain)."""
    lines = service.export_for_auditor(ctx, services.sessions, client_id, file_format)
    media = "application/x-ndjson" if file_format == "jsonl" else "text/csv"
    client = ctx.session.get(Client, client_id)  # none has id 0, the provider's chain
    whose = client.code if client else "provider" if client_id == PROVIDER else f"{client_id}"
    name = f"audit-{whose}-{ctx.now:%Y-%m-%d}.{file_format}"  # codes are [a-z0-9_-]
    return StreamingResponse(
        lines, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
