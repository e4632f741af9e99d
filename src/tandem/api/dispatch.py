"""The agent's side of the work loop: get next, keep alive, give back, hand in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from tandem.http import MAX_INT, Services, requires, uses
from tandem.privacy.service import result_for, reveal_personal, staff_view
from tandem.quality.reviews import sent_back_notes
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["dispatch"])

# The lease protocol's hot path (claim, heartbeat, submit) runs on a Core connection of its
# own, with the Dispatcher's signatures: no ORM session, no Context.
Claimer = Annotated[Principal, Depends(requires(Permission.WORK_CLAIM))]
Submitter = Annotated[Principal, Depends(requires(Permission.WORK_SUBMIT))]
Claiming = Annotated[Context, uses(Permission.WORK_CLAIM)]
Revealing = Annotated[Context, uses(Permission.PERSONAL_REVEAL)]


class LeaseOut(BaseModel):
    item_id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    routing_key: str
    attempt: int = Field(description="The fencing token: send it with heartbeat and submit")
    lease_expires_at: datetime
    due_at: datetime
    payload: dict[str, Any]


class QueueOut(BaseModel):
    client_id: int
    routing_key: str


class AttemptIn(BaseModel):
    attempt: int = Field(ge=1, le=MAX_INT)


class ReleaseIn(AttemptIn):
    reason: str | None = Field(default=None, max_length=500)


class SubmitIn(AttemptIn):
    result: dict[str, Any]


class HeartbeatOut(BaseModel):
    lease_expires_at: datetime


class SubmitOut(BaseModel):
    item_id: uuid.UUID
    state: str


@router.get("/dispatch/queues", response_model=list[QueueOut])
def my_queues(ctx: Claiming, services: Services) -> list[QueueOut]:
    """The queues the calling agent may pull from right now (skills, clearance, shift)."""
    queues = services.dispatcher.servable(ctx.session, ctx.principal.agent())
    return [QueueOut(client_id=client, routing_key=key) for client, key in queues]


@router.post(
    "/dispatch/claim",
    response_model=LeaseOut,
    responses={204: {"description": "Nothing to do in any queue the agent may serve"}},
)
def claim_next(principal: Claimer, services: Services) -> LeaseOut | Response:
    """Get the next item: earliest due first, then priority, then age."""
    with services.engine.connect() as connection:  # Core, no ORM session: the hot path
        lease = services.dispatcher.claim(connection, principal.agent())
        if lease is None:
            return Response(status_code=204)
        payload = staff_view(connection, services.keyring, lease, agent=True)
    return LeaseOut(
        item_id=lease.item_id,
        client_id=lease.client_id,
        process_id=lease.process_id,
        routing_key=lease.routing_key,
        attempt=lease.attempt,
        lease_expires_at=lease.expires_at,
        due_at=lease.due_at,
        payload=payload,
    )


class HeldLeaseOut(LeaseOut):
    result: dict[str, Any] | None = Field(description="Your earlier result, when sent back")
    sent_back: dict[str, Any] | None = Field(
        description="Why a reviewer sent it back to you: the failed checks and the reason"
    )


@router.get("/dispatch/leases", response_model=list[HeldLeaseOut])
def my_leases(ctx: Claiming, services: Services) -> list[HeldLeaseOut]:
    """The items leased to the calling agent now: a page reload resumes them, and work a
    reviewer sent back to its agent shows here, with the reviewer's findings."""
    session = ctx.session
    return [
        HeldLeaseOut(
            item_id=item.id,
            client_id=item.client_id,
            process_id=item.process_id,
            routing_key=item.routing_key,
            attempt=item.attempt,
            lease_expires_at=item.lease_expires_at,
            due_at=item.due_at,
            payload=staff_view(session, ctx.keyring, item, agent=True),
            result=result_for(session, ctx.keyring, ctx.principal, item) if item.recheck else None,
            sent_back=sent_back_notes(session, item) if item.recheck else None,
        )
        for item in services.dispatcher.held(session, ctx.principal.agent())
    ]


class RevealIn(BaseModel):
    fields: list[str] = Field(min_length=1)
    reason: str = Field(min_length=5, max_length=500, description="Why the work needs it")


@router.post("/leases/{item_id}/reveal", response_model=dict[str, Any])
def reveal(item_id: uuid.UUID, body: RevealIn, ctx: Revealing) -> dict[str, Any]:
    """The clear values of personal fields of an item leased to you, for a stated reason;
    the reveal is written to the audit trail."""
    return reveal_personal(ctx, item_id, body.fields, body.reason)


@router.post("/leases/{item_id}/heartbeat", response_model=HeartbeatOut)
def heartbeat(
    item_id: uuid.UUID, body: AttemptIn, principal: Claimer, services: Services
) -> HeartbeatOut:
    with services.engine.connect() as connection:
        expires = services.dispatcher.heartbeat(
            connection, principal.agent(), item_id, body.attempt
        )
    return HeartbeatOut(lease_expires_at=expires)


@router.post("/leases/{item_id}/release", status_code=204)
def release(item_id: uuid.UUID, body: ReleaseIn, ctx: Claiming, services: Services) -> None:
    agent = ctx.principal.agent()
    services.dispatcher.release(ctx.session, agent, item_id, body.attempt, body.reason)


@router.post("/leases/{item_id}/submit", response_model=SubmitOut)
def submit(
    item_id: uuid.UUID, body: SubmitIn, principal: Submitter, services: Services
) -> SubmitOut:
    with services.engine.connect() as connection:
        ref = services.dispatcher.submit(
            connection, principal.agent(), item_id, body.attempt, body.result
        )
    return SubmitOut(item_id=ref.id, state=ref.state.value)
