"""Reading work items and their histories, within what the reader may see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.core.errors import NotFound
from tandem.tenancy.context import Context
from tandem.work.access import visible
from tandem.work.lifecycle import State
from tandem.work.models import Batch, WorkItem, WorkItemEvent


def history(session: Session, item: WorkItem) -> Sequence[WorkItemEvent]:
    return session.scalars(
        select(WorkItemEvent)
        .where(WorkItemEvent.client_id == item.client_id, WorkItemEvent.work_item_id == item.id)
        .order_by(WorkItemEvent.seq)
    ).all()


def latest(session: Session, client_id: int, limit: int) -> Sequence[WorkItem]:
    """The client's most recent items (ids are time-ordered: the primary key, backwards)."""
    return session.scalars(
        select(WorkItem)
        .where(WorkItem.client_id == client_id, WorkItem.gold.is_(False))
        .order_by(WorkItem.id.desc())
        .limit(limit)
    ).all()


def list_visible(
    ctx: Context,
    *,
    batch_id: uuid.UUID | None = None,
    process_id: uuid.UUID | None = None,
    state: State | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[WorkItem]:
    query = select(WorkItem).where(visible(ctx.principal, ctx.now))
    if batch_id is not None:
        query = query.where(WorkItem.batch_id == batch_id)
    if process_id is not None:
        query = query.where(WorkItem.process_id == process_id)
    if state is not None:
        query = query.where(WorkItem.state == state.value)
    query = query.order_by(WorkItem.received_at, WorkItem.id).limit(limit).offset(offset)
    return list(ctx.session.scalars(query).all())


def get_batch(ctx: Context, batch_id: uuid.UUID) -> Batch:
    """A batch of the caller's client (provider staff: any); NotFound otherwise."""
    batch = ctx.session.scalar(
        select(Batch).where(Batch.id == batch_id, ctx.principal.client_condition(Batch.client_id))
    )
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    return batch
