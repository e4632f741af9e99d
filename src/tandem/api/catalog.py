"""The service catalog: which processes a client has outsourced."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem.catalog import service
from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition
from tandem.core import paging
from tandem.http import MAX_INT, Paging, paged, paged_responses, uses
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["catalog"])

SLA_MINUTES_MAX = 366 * 24 * 60
PRICE_MAX = Decimal("999999.9999")  # the column's numeric(10, 4)
REWORK = (
    "The rework target: minutes the redo of a result the client rejected may take, from the "
    "rejection (none: sla_minutes)"
)

Reading = Annotated[Context, uses(Permission.PROCESS_READ)]
Managing = Annotated[Context, uses(Permission.PROCESS_MANAGE)]
SettingTerms = Annotated[Context, uses(Permission.PROCESS_TERMS)]


class ProcessIn(BaseModel):
    client_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="Provider staff only: whose process"
    )
    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: str
    input_schema: dict[str, Any]
    form_schema: dict[str, Any]
    required_skills: dict[str, int] = Field(default_factory=dict)
    language: str | None = Field(default=None, max_length=8)
    min_cefr: str | None = None
    sla_minutes: int = Field(le=SLA_MINUTES_MAX, description="At most a year")
    sla_mode: str = "business_hours"
    rework_sla_minutes: int | None = Field(default=None, le=SLA_MINUTES_MAX, description=REWORK)
    priority: int = Field(default=0, ge=-100, le=100)
    price_per_item: Decimal = Field(default=Decimal(0), ge=0, le=PRICE_MAX)
    agent_visible_personal: list[str] = Field(
        default_factory=list,
        description="Categories of personal input fields (x-personal) agents see unmasked",
    )

    def definition(self) -> ProcessDefinition:
        """The process this body defines (its client aside: `client_id`)."""
        return ProcessDefinition(**self.model_dump(exclude={"client_id"}))


class ProcessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    code: str
    name: str
    kind: str
    input_schema: dict[str, Any]
    form_schema: dict[str, Any]
    required_skills: dict[str, int]
    language: str | None
    min_cefr: str | None
    sla_minutes: int
    sla_mode: str
    rework_sla_minutes: int | None
    priority: int
    price_per_item: Decimal
    agent_visible_personal: list[str]
    active: bool
    created_at: datetime


@router.get("/processes", response_model=list[ProcessOut], responses=paged_responses("processes"))
def list_processes(
    ctx: Reading, request: Request, response: Response, window: Paging
) -> list[Process]:
    return paged(request, response, paging.cut(service.list_processes(ctx), window), window)


@router.get("/processes/{process_id}", response_model=ProcessOut)
def get_process(process_id: uuid.UUID, ctx: Reading) -> Process:
    return service.get_process(ctx, process_id)


@router.post("/processes", response_model=ProcessOut, status_code=201)
def define_process(body: ProcessIn, ctx: Managing) -> Process:
    """Define a process. Its SLA, priority and price are the provider's: a client's people
    propose the SLA and the process takes work once provider staff set the terms
    (`active` false until then)."""
    return service.define_for(ctx, body.client_id, body.definition())


class TermsIn(BaseModel):
    sla_minutes: int = Field(ge=1, le=SLA_MINUTES_MAX, description="At most a year")
    sla_mode: str = "business_hours"
    rework_sla_minutes: int | None = Field(
        default=None, ge=1, le=SLA_MINUTES_MAX, description=REWORK
    )
    priority: int = Field(default=0, ge=-100, le=100)
    price_per_item: Decimal = Field(default=Decimal(0), ge=0, le=PRICE_MAX)


@router.put("/processes/{process_id}/terms", response_model=ProcessOut)
def set_terms(process_id: uuid.UUID, body: TermsIn, ctx: SettingTerms) -> Process:
    """The provider's terms for a process: SLA target and mode, rework target, priority,
    price per item. A process a client defined takes work from now on."""
    return service.set_terms(ctx, process_id, **body.model_dump())
