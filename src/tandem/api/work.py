"""Status API: what the client (and provider staff) see of work items and batches."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.core.db import transaction
from tandem.core.errors import NotFound
from tandem.http import MAX_INT, Services, requires
from tandem.privacy.service import payload_for, result_for
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.vault.sealing import Keyring
from tandem.work import queries
from tandem.work import transitions as service
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import Batch, WorkItem
from tandem.work.schemas import BatchOut, EventOut, WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["work items"])

Reader = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_READ))]
Manager = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_MANAGE))]


@router.get("/work-items/{item_id}", response_model=WorkItemOut)
def get_work_item(item_id: uuid.UUID, principal: Reader, services: Services) -> WorkItemOut:
    with transaction(services.sessions) as session:
        item = get_visible(session, principal, item_id, now=services.clock.now())
        return shown(session, services.keyring, principal, item)


def shown(session: Session, keyring: Keyring, principal: Principal, item: WorkItem) -> WorkItemOut:
    """The item as this reader may see it (tandem.privacy.service: payload_for, result_for)."""
    out = WorkItemOut.model_validate(item)
    out.payload = payload_for(session, keyring, principal, item)
    out.result = result_for(session, keyring, principal, item)
    return out


@router.get("/work-items", response_model=list[WorkItemOut])
def list_work_items(
    principal: Reader,
    services: Services,
    batch_id: uuid.UUID | None = None,
    process_id: uuid.UUID | None = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> list[WorkItemOut]:
    with transaction(services.sessions) as session:
        found = queries.list_visible(
            session,
            principal,
            now=services.clock.now(),
            batch_id=batch_id,
            process_id=process_id,
            state=state,
            limit=limit,
            offset=offset,
        )
        return [shown(session, services.keyring, principal, item) for item in found]


@router.get("/work-items/{item_id}/events", response_model=list[EventOut])
def work_item_events(item_id: uuid.UUID, principal: Reader, services: Services) -> list[object]:
    with transaction(services.sessions) as session:
        return list(
            queries.history(
                session, get_visible(session, principal, item_id, now=services.clock.now())
            )
        )


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/work-items/{item_id}/hold", response_model=WorkItemOut)
def hold_work_item(
    item_id: uuid.UUID, body: HoldIn, principal: Manager, services: Services
) -> WorkItemOut:
    """Put an item on hold (waiting, e.g. for the client): its SLA clock pauses."""
    with transaction(services.sessions) as session:
        item = service.hold(
            session,
            principal,
            item_id,
            body.reason,
            now=services.clock.now(),
            at_risk_fraction=services.settings.at_risk_fraction,
        )
        return shown(session, services.keyring, principal, item)


@router.post("/work-items/{item_id}/resume", response_model=WorkItemOut)
def resume_work_item(item_id: uuid.UUID, principal: Manager, services: Services) -> WorkItemOut:
    """Queue a waiting item again; its SLA clock restarts with the time it had left."""
    with transaction(services.sessions) as session:
        item = service.resume(
            session,
            principal,
            item_id,
            now=services.clock.now(),
            at_risk_fraction=services.settings.at_risk_fraction,
        )
        return shown(session, services.keyring, principal, item)


@router.post("/work-items/{item_id}/cancel", response_model=WorkItemOut)
def cancel_work_item(
    item_id: uuid.UUID, body: HoldIn, principal: Manager, services: Services
) -> WorkItemOut:
    with transaction(services.sessions) as session:
        item = service.cancel(session, principal, item_id, body.reason, now=services.clock.now())
        return shown(session, services.keyring, principal, item)


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: uuid.UUID, principal: Reader, services: Services) -> Batch:
    with transaction(services.sessions) as session:
        batch = session.scalar(
            select(Batch).where(Batch.id == batch_id, principal.client_condition(Batch.client_id))
        )
        if batch is None:
            raise NotFound(f"batch {batch_id} not found")
        return batch
