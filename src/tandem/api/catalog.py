"""The service catalog: which processes a client has outsourced."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from tandem.catalog import service
from tandem.catalog.models import Process
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput, NotFound
from tandem.http import MAX_INT, Services, requires
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["catalog"])

SLA_MINUTES_MAX = 366 * 24 * 60
PRICE_MAX = Decimal("999999.9999")  # the column's numeric(10, 4)

Reader = Annotated[Principal, Depends(requires(Permission.PROCESS_READ))]
Manager = Annotated[Principal, Depends(requires(Permission.PROCESS_MANAGE))]


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
    priority: int = Field(default=0, ge=-100, le=100)
    price_per_item: Decimal = Field(default=Decimal(0), ge=-PRICE_MAX, le=PRICE_MAX)
    agent_visible_personal: list[str] = Field(
        default_factory=list,
        description="Categories of personal input fields (x-personal) agents see unmasked",
    )


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
    priority: int
    price_per_item: Decimal
    agent_visible_personal: list[str]
    active: bool
    created_at: datetime


@router.get("/processes", response_model=list[ProcessOut])
def list_processes(principal: Reader, services: Services) -> list[Process]:
    with transaction(services.sessions) as session:
        return list(service.list_processes(session, principal))


@router.get("/processes/{process_id}", response_model=ProcessOut)
def get_process(process_id: uuid.UUID, principal: Reader, services: Services) -> Process:
    with transaction(services.sessions) as session:
        return service.get_process(session, principal, process_id)


@router.post("/processes", response_model=ProcessOut, status_code=201)
def define_process(body: ProcessIn, principal: Manager, services: Services) -> Process:
    client_id = principal.client_id if principal.client_id is not None else body.client_id
    if client_id is None:
        raise InvalidInput(
            "say which client", errors=[{"field": "client_id", "message": "required"}]
        )
    with transaction(services.sessions) as session:
        if session.get(Client, client_id) is None:
            raise NotFound(f"client {client_id} not found")
        return service.define_process(
            session,
            client_id=client_id,
            now=services.clock.now(),
            **body.model_dump(exclude={"client_id"}),
        )
