"""Who am I, and the provider's list of clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tandem.db import transaction
from tandem.http import Services, current_principal, requires
from tandem.tenancy import service
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["tenancy"])


class MeOut(BaseModel):
    user_id: uuid.UUID
    role: str
    client_id: int | None
    agent_id: uuid.UUID | None
    permissions: list[str]


class ClientIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    calendar: dict[str, Any] | None = Field(
        default=None, description="Business calendar; default 09:00-17:00 Monday-Friday"
    )


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    timezone: str
    calendar: dict[str, Any]
    created_at: datetime


@router.get("/me", response_model=MeOut)
def me(principal: Annotated[Principal, Depends(current_principal)]) -> MeOut:
    """The caller and what they may do. Any valid token may ask."""
    return MeOut(
        user_id=principal.user_id,
        role=principal.role,
        client_id=principal.client_id,
        agent_id=principal.agent_id,
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.get("/clients", response_model=list[ClientOut])
def list_clients(
    principal: Annotated[Principal, Depends(requires(Permission.CLIENT_READ))], services: Services
) -> list[Client]:
    with transaction(services.sessions) as session:
        return list(
            session.scalars(
                select(Client).where(principal.client_condition(Client.id)).order_by(Client.code)
            ).all()
        )


@router.post("/clients", response_model=ClientOut, status_code=201)
def create_client(
    body: ClientIn,
    principal: Annotated[Principal, Depends(requires(Permission.CLIENT_MANAGE))],
    services: Services,
) -> Client:
    with transaction(services.sessions) as session:
        return service.create_client(session, now=services.clock.now(), **body.model_dump())
