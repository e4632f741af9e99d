"""The provider's workforce and the operations view of the queues."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from tandem.catalog.models import Process
from tandem.db import transaction
from tandem.http import Services, requires
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.models import WorkItem
from tandem.workforce.models import Agent, DeliveryCenter

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

WorkforceReader = Annotated[Principal, Depends(requires(Permission.WORKFORCE_READ))]
OpsReader = Annotated[Principal, Depends(requires(Permission.OPERATIONS_READ))]


class CenterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    country: str
    timezone: str
    hourly_cost: Decimal
    currency: str
    holidays: list[str]


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    center_code: str
    tier: str
    active: bool


class QueueDepthOut(BaseModel):
    client_id: int
    process_id: uuid.UUID
    process_code: str
    state: str
    items: int
    at_risk: int
    breached: int


@router.get("/centers", response_model=list[CenterOut])
def list_centers(principal: WorkforceReader, services: Services) -> list[DeliveryCenter]:
    with transaction(services.sessions) as session:
        return list(session.scalars(select(DeliveryCenter).order_by(DeliveryCenter.code)).all())


@router.get("/agents", response_model=list[AgentOut])
def list_agents(
    principal: WorkforceReader, services: Services, center: str | None = None
) -> list[Agent]:
    with transaction(services.sessions) as session:
        query = select(Agent).order_by(Agent.center_code, Agent.name)
        if center:
            query = query.where(Agent.center_code == center)
        return list(session.scalars(query).all())


@router.get("/operations/queues", response_model=list[QueueDepthOut])
def queue_depth(principal: OpsReader, services: Services) -> list[QueueDepthOut]:
    """Open work per process and state, with how much of it is at risk or breached."""
    with transaction(services.sessions) as session:
        rows = session.execute(
            select(
                WorkItem.client_id,
                WorkItem.process_id,
                Process.code,
                WorkItem.state,
                func.count(),
                func.count().filter(WorkItem.at_risk),
                func.count().filter(WorkItem.breached),
            )
            .join(
                Process,
                (Process.client_id == WorkItem.client_id) & (Process.id == WorkItem.process_id),
            )
            .where(WorkItem.state.notin_(("delivered", "cancelled")))
            .group_by(WorkItem.client_id, WorkItem.process_id, Process.code, WorkItem.state)
            .order_by(WorkItem.client_id, Process.code, WorkItem.state)
        ).all()
    return [
        QueueDepthOut(
            client_id=c, process_id=p, process_code=code, state=s, items=n, at_risk=r, breached=b
        )
        for c, p, code, s, n, r, b in rows
    ]
