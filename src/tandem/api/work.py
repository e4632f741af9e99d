"""Status API: what the client (and provider staff) see of work items and batches."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from tandem.core import paging
from tandem.core.errors import InvalidInput
from tandem.dispatch.service import reroute
from tandem.http import MAX_INT, Paging, Services, paged, paged_responses, requires, uses
from tandem.privacy.service import payload_for, result_for
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work import bulk, queries, transitions
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import Batch, WorkItem, WorkItemEvent
from tandem.work.schemas import BatchOut, EventOut, WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["work items"])

Reading = Annotated[Context, uses(Permission.WORK_ITEM_READ)]
Managing = Annotated[Context, uses(Permission.WORK_ITEM_MANAGE)]
# The provider's operations on work: reprioritize, take a lease back, reassign, in bulk.
Operating = Annotated[Context, uses(Permission.WORK_ITEM_OPERATE)]
Operator = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_OPERATE))]


@router.get("/work-items/{item_id}", response_model=WorkItemOut)
def get_work_item(item_id: uuid.UUID, ctx: Reading) -> WorkItemOut:
    return shown(ctx, get_visible(ctx, item_id))


def shown(ctx: Context, item: WorkItem) -> WorkItemOut:
    """The item as this reader may see it (tandem.privacy.service: payload_for, result_for)."""
    out = WorkItemOut.model_validate(item)
    out.payload = payload_for(ctx.session, ctx.keyring, ctx.principal, item)
    out.result = result_for(ctx.session, ctx.keyring, ctx.principal, item)
    return out


@router.get(
    "/work-items",
    response_model=list[WorkItemOut],
    responses=paged_responses("items"),
)
def list_work_items(
    ctx: Reading,
    request: Request,
    response: Response,
    window: Paging,
    external_ref: Annotated[str | None, Query(max_length=200)] = None,
    client_id: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    batch_id: uuid.UUID | None = None,
    process_id: uuid.UUID | None = None,
    state: Annotated[list[State] | None, Query(description="repeat for several")] = None,
    received_from: AwareDatetime | None = None,
    received_to: AwareDatetime | None = None,
    due_before: AwareDatetime | None = None,
    delivered_from: AwareDatetime | None = None,
    delivered_to: AwareDatetime | None = None,
    at_risk: bool | None = None,
    breached: bool | None = None,
    sort: Annotated[
        queries.Sort,
        Query(
            description="by arrival, due or delivery time (`-` first: latest first; by "
            "delivery, delivered items only) or priority (the most urgent first)"
        ),
    ] = "received",
) -> list[WorkItemOut]:
    """The items the caller may see that match every filter given (ranges: from inclusive,
    to exclusive), one page at a time; `X-Total-Count` says how many match in all."""
    search = queries.ItemSearch(
        external_ref=external_ref,
        client_id=client_id,
        batch_id=batch_id,
        process_id=process_id,
        states=tuple(state or ()),
        received_from=received_from,
        received_to=received_to,
        due_before=due_before,
        delivered_from=delivered_from,
        delivered_to=delivered_to,
        at_risk=at_risk,
        breached=breached,
    )
    page = queries.find(ctx, search, sort=sort, window=window)
    return [shown(ctx, item) for item in paged(request, response, page, window)]


@router.get(
    "/work-items/{item_id}/events",
    response_model=list[EventOut],
    responses=paged_responses("events"),
)
def work_item_events(
    item_id: uuid.UUID, ctx: Reading, request: Request, response: Response, window: Paging
) -> list[WorkItemEvent]:
    """The item's history, the oldest first."""
    found = paging.cut(queries.history(ctx.session, get_visible(ctx, item_id)), window)
    return paged(request, response, found, window)


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/work-items/{item_id}/hold", response_model=WorkItemOut)
def hold_work_item(
    item_id: uuid.UUID, body: HoldIn, ctx: Managing, services: Services
) -> WorkItemOut:
    """Put an item on hold (waiting, e.g. for the client): its SLA clock pauses."""
    fraction = services.settings.at_risk_fraction
    return shown(ctx, transitions.hold(ctx, item_id, body.reason, at_risk_fraction=fraction))


@router.post("/work-items/{item_id}/resume", response_model=WorkItemOut)
def resume_work_item(item_id: uuid.UUID, ctx: Managing, services: Services) -> WorkItemOut:
    """Queue a waiting item again; its SLA clock restarts with the time it had left."""
    fraction = services.settings.at_risk_fraction
    return shown(ctx, transitions.resume(ctx, item_id, at_risk_fraction=fraction))


@router.post("/work-items/{item_id}/cancel", response_model=WorkItemOut)
def cancel_work_item(item_id: uuid.UUID, body: HoldIn, ctx: Managing) -> WorkItemOut:
    return shown(ctx, transitions.cancel(ctx, item_id, body.reason))


LOW, HIGH = bulk.PRIORITY_RANGE


class PriorityIn(BaseModel):
    priority: int = Field(ge=LOW, le=HIGH, description="Among items due together, higher first")


@router.post("/work-items/{item_id}/priority", response_model=WorkItemOut)
def reprioritize_work_item(item_id: uuid.UUID, body: PriorityIn, ctx: Operating) -> WorkItemOut:
    """Set an open item's priority (audited). Agents get the earliest due item first, then
    the highest priority among those due together."""
    return shown(ctx, transitions.reprioritize(ctx, item_id, body.priority))


class ReasonIn(BaseModel):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


@router.post("/work-items/{item_id}/release", response_model=WorkItemOut)
def release_work_item(item_id: uuid.UUID, body: ReasonIn, ctx: Operating) -> WorkItemOut:
    """Take a leased item back to its queue: its holder loses the lease (their heartbeat and
    submit are refused with 409); 409 if the item is not leased."""
    return shown(ctx, transitions.take_back(ctx, item_id, body.reason))


class ReassignIn(ReasonIn):
    agent_id: uuid.UUID | None = Field(
        default=None, description="Lease it to this agent (one lease period), or"
    )
    routing_key: str | None = Field(
        default=None, min_length=1, max_length=60, description="move it to this queue"
    )


@router.post("/work-items/{item_id}/reassign", response_model=WorkItemOut)
def reassign_work_item(
    item_id: uuid.UUID, body: ReassignIn, ctx: Operating, services: Services
) -> WorkItemOut:
    """To a named agent (`agent_id`: leased to them, if they may serve its queue now; they
    find it among the items they hold, and it returns to the queue if they do not keep the
    lease) or to another queue of its client (`routing_key`). Exactly one of the two."""
    if (body.agent_id is None) == (body.routing_key is None):
        message = "name an agent_id or a routing_key (one of the two)"
        raise InvalidInput(
            "reassign to an agent or to a queue",
            errors=[{"field": "agent_id", "message": message}],
        )
    if body.agent_id is not None:
        item = services.dispatcher.assign(ctx, item_id, body.agent_id, body.reason)
    else:
        assert body.routing_key is not None
        item = reroute(ctx, item_id, body.routing_key, body.reason)
    return shown(ctx, item)


class BulkIn(BaseModel):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=bulk.MAX_ITEMS)
    action: bulk.Action
    reason: str | None = Field(
        default=None, max_length=500, description="hold and cancel: required; release: kept"
    )
    priority: int | None = Field(default=None, ge=LOW, le=HIGH, description="priority: required")


class BulkItemOut(BaseModel):
    id: uuid.UUID
    outcome: str = Field(description="done, or refused")
    detail: str = Field(description="What was done, or why it was refused")
    external_ref: str | None = None
    state: str | None = Field(default=None, description="Done: the state the item is in now")


class BulkOut(BaseModel):
    action: str
    done: int
    refused: int
    items: list[BulkItemOut]


@router.post("/work-items/bulk", response_model=BulkOut)
def bulk_work_items(body: BulkIn, principal: Operator, services: Services) -> BulkOut:
    """One action on up to 500 items, applied an item at a time, each in a transaction of
    its own (and audited): the answer says for each item whether it was done or refused and
    why. An item the caller cannot see is refused as a missing one is."""
    order = bulk.Order(body.action, body.reason, body.priority)
    outcomes = bulk.apply(
        lambda: services.context(principal),
        body.ids,
        order,
        at_risk_fraction=services.settings.at_risk_fraction,
    )
    items = [
        BulkItemOut(
            id=o.id,
            outcome="done" if o.done else "refused",
            detail=o.detail,
            external_ref=o.external_ref,
            state=o.state,
        )
        for o in outcomes
    ]
    done = sum(o.done for o in outcomes)
    return BulkOut(action=body.action, done=done, refused=len(outcomes) - done, items=items)


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: uuid.UUID, ctx: Reading) -> Batch:
    return queries.get_batch(ctx, batch_id)
