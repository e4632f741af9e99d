"""Reading work items and their histories, within what the reader may see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, UnaryExpression, func, select
from sqlalchemy.orm import Session

from tandem.core import paging
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


@dataclass(frozen=True)
class ItemSearch:
    """What a reader looks for among the items they may see; None (or empty) is any."""

    external_ref: str | None = None
    client_id: int | None = None
    batch_id: uuid.UUID | None = None
    process_id: uuid.UUID | None = None
    states: tuple[State, ...] = ()
    received_from: datetime | None = None
    received_to: datetime | None = None
    due_before: datetime | None = None
    delivered_from: datetime | None = None
    delivered_to: datetime | None = None
    at_risk: bool | None = None
    breached: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        equal: tuple[tuple[Any, object], ...] = (
            (WorkItem.external_ref, self.external_ref),
            (WorkItem.client_id, self.client_id),
            (WorkItem.batch_id, self.batch_id),
            (WorkItem.process_id, self.process_id),
            (WorkItem.at_risk, self.at_risk),
            (WorkItem.breached, self.breached),
        )
        for column, value in equal:
            if value is not None:
                found.append(column == value)
        if self.states:
            found.append(WorkItem.state.in_([state.value for state in self.states]))
        ranges: tuple[tuple[Any, datetime | None, datetime | None], ...] = (
            (WorkItem.received_at, self.received_from, self.received_to),
            (WorkItem.delivered_at, self.delivered_from, self.delivered_to),
            (WorkItem.due_at, None, self.due_before),
        )
        for column, low, high in ranges:
            if low is not None:
                found.append(column >= low)
            if high is not None:
                found.append(column < high)
        return found


Sort = Literal["received", "-received", "due", "-due", "delivered", "-delivered", "priority"]


def _order(sort: Sort) -> tuple[UnaryExpression[Any], ...]:
    """Ids are time-ordered (UUIDv7 at intake): by id is by arrival, on the primary key."""
    if sort == "priority":  # the most urgent first, as dispatch serves them
        return (WorkItem.priority.desc(), WorkItem.due_at.asc(), WorkItem.id.asc())
    if sort in ("received", "-received"):
        return (WorkItem.id.desc() if sort == "-received" else WorkItem.id.asc(),)
    column = WorkItem.due_at if sort.endswith("due") else WorkItem.delivered_at
    if sort.startswith("-"):
        return (column.desc(), WorkItem.id.desc())
    return (column.asc(), WorkItem.id.asc())


def _sorted_by(sort: Sort) -> list[ColumnElement[bool]]:
    """What a sort implies: by delivery time, the delivered items (so that the delivered
    index serves the order, as it does the client's KPIs: its predicate says `NOT gold`,
    which PostgreSQL does not prove from `gold IS false`; with the latter a page of a
    client's delivered items was a scan of all of them)."""
    if sort in ("delivered", "-delivered"):
        return [WorkItem.state == State.DELIVERED.value, ~WorkItem.gold]
    return []


def find(
    ctx: Context,
    search: ItemSearch = ItemSearch(),
    *,
    sort: Sort = "received",
    window: paging.Window = paging.Window(),
) -> paging.Page[WorkItem]:
    """One page of the items the reader may see that match `search`, and how many match.
    Sorted by delivery time, only delivered items are listed."""
    where = [visible(ctx.principal, ctx.now), *search.conditions(), *_sorted_by(sort)]
    total = ctx.session.scalar(select(func.count()).select_from(WorkItem).where(*where)) or 0
    query = select(WorkItem).where(*where).order_by(*_order(sort))
    items = ctx.session.scalars(query.limit(window.limit).offset(window.offset)).all()
    return paging.Page(list(items), total)


def batch_progress(session: Session, batch: Batch) -> dict[str, int]:
    """How many of a file's items are in each state."""
    return {
        state: count
        for state, count in session.execute(
            select(WorkItem.state, func.count())
            .where(WorkItem.client_id == batch.client_id, WorkItem.batch_id == batch.id)
            .group_by(WorkItem.state)
        ).tuples()
    }


def get_batch(ctx: Context, batch_id: uuid.UUID) -> Batch:
    """A batch of the caller's client (provider staff: any); NotFound otherwise."""
    batch = ctx.session.scalar(
        select(Batch).where(Batch.id == batch_id, ctx.principal.client_condition(Batch.client_id))
    )
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    return batch
