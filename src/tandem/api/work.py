"""Status API: what the client (and provider staff) see of work items and batches."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from tandem.http import MAX_INT, Services, uses
from tandem.privacy.service import payload_for, result_for
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.work import queries, transitions
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import Batch, WorkItem
from tandem.work.schemas import BatchOut, EventOut, WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["work items"])

Reading = Annotated[Context, uses(Permission.WORK_ITEM_READ)]
Managing = Annotated[Context, uses(Permission.WORK_ITEM_MANAGE)]


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
    responses={
        200: {
            "headers": {
                "X-Total-Count": {
                    "description": "How many items match, on every page",
                    "schema": {"type": "integer"},
                },
                "Link": {"description": 'The next and previous pages (rel="next", "prev")'},
            }
        }
    },
)
def list_work_items(
    ctx: Reading,
    request: Request,
    response: Response,
    external_ref: Annotated[str | None, Query(max_length=200)] = None,
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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> list[WorkItemOut]:
    """The items the caller may see that match every filter given (ranges: from inclusive,
    to exclusive), one page at a time; `X-Total-Count` says how many match in all."""
    search = queries.ItemSearch(
        external_ref=external_ref,
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
    page = queries.find(ctx, search, sort=sort, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(page.total)
    links = []
    if offset + limit < page.total:
        links.append((offset + limit, "next"))
    if offset > 0:
        links.append((max(0, offset - limit), "prev"))
    if links:
        response.headers["Link"] = ", ".join(
            f'<{request.url.include_query_params(offset=at)}>; rel="{rel}"' for at, rel in links
        )
    return [shown(ctx, item) for item in page.items]


@router.get("/work-items/{item_id}/events", response_model=list[EventOut])
def work_item_events(item_id: uuid.UUID, ctx: Reading) -> list[object]:
    return list(queries.history(ctx.session, get_visible(ctx, item_id)))


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


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: uuid.UUID, ctx: Reading) -> Batch:
    return queries.get_batch(ctx, batch_id)
