"""Use cases on single work items. `move` is the only way a state changes.

Each function runs inside the caller's transaction (one unit of work = one transaction), so a
state change and its event row commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, insert, select, update
from sqlalchemy.orm import Session

from tandem.core.errors import Conflict, NotFound
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import IllegalTransition, State, check_transition
from tandem.work.models import WorkItem, WorkItemEvent

items = cast(Table, WorkItem.__table__)
events = cast(Table, WorkItemEvent.__table__)


@dataclass(frozen=True)
class ItemRef:
    """What `move` needs to know of an item: where it is and what it was when read."""

    client_id: int
    id: uuid.UUID
    state: State
    version: int
    attempt: int

    @classmethod
    def of(cls, row: Row[Any] | WorkItem) -> ItemRef:
        return cls(row.client_id, row.id, State(row.state), row.version, row.attempt)


class StaleItem(Conflict):
    """Someone else changed the item between our read and our write."""


def move(
    session: Session | Connection,
    item: ItemRef,
    to: State | Sequence[State],
    *,
    actor: str,
    now: datetime,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    """Move an item to `to` (or through several states in one go), applying `changes`, and
    write one event per step.

    Refuses steps not in the lifecycle table (IllegalTransition) and writes that raced with
    another change (StaleItem): the update only matches the state and version we read.
    """
    path = [to] if isinstance(to, State) else list(to)
    previous: State = item.state
    for step in path:
        check_transition(previous, step)
        previous = step
    version = item.version + len(path)
    result = session.execute(
        update(items)
        .where(
            items.c.client_id == item.client_id,
            items.c.id == item.id,
            items.c.version == item.version,
            items.c.state == item.state.value,
        )
        .values(state=path[-1].value, version=version, updated_at=now, **(changes or {}))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleItem(f"work item {item.id} changed meanwhile; read it again")
    attempt = int((changes or {}).get("attempt", item.attempt))
    session.execute(
        insert(events),
        step_events(item, path, actor=actor, now=now, attempt=attempt, data=data),
    )
    return ItemRef(item.client_id, item.id, path[-1], version, attempt)


def step_events(
    item: ItemRef,
    path: Sequence[State],
    *,
    actor: str,
    now: datetime,
    attempt: int,
    data: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The event rows of moving `item` (as it was before) along `path`: one per step, numbered
    on from the item's version. For writers that move items with statements of their own."""
    return [
        {
            "client_id": item.client_id,
            "work_item_id": item.id,
            "seq": item.version + 1 + i,
            "at": now,
            "from_state": (path[i - 1] if i else item.state).value,
            "to_state": step.value,
            "actor": actor,
            "attempt": attempt,
            "data": dict(data) if data else None,
        }
        for i, step in enumerate(path)
    ]


def creation_event(
    item: Mapping[str, Any], *, actor: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The event row of a new item (sequence 1), for bulk inserts beside the item rows."""
    check_transition(None, State(item["state"]))
    return {
        "client_id": item["client_id"],
        "work_item_id": item["id"],
        "seq": 1,
        "at": item["received_at"],
        "from_state": None,
        "to_state": item["state"],
        "actor": actor,
        "attempt": 0,
        "data": dict(data) if data else None,
    }


def get_visible(session: Session, principal: Principal, item_id: uuid.UUID) -> WorkItem:
    """The item if the principal may see it; otherwise NotFound, same as a missing item."""
    item = session.scalar(
        select(WorkItem).where(WorkItem.id == item_id, principal.work_item_condition())
    )
    if item is None:
        raise NotFound(f"work item {item_id} not found")
    return item


def history(session: Session, item: WorkItem) -> Sequence[WorkItemEvent]:
    return session.scalars(
        select(WorkItemEvent)
        .where(WorkItemEvent.client_id == item.client_id, WorkItemEvent.work_item_id == item.id)
        .order_by(WorkItemEvent.seq)
    ).all()


__all__ = ["IllegalTransition", "ItemRef", "StaleItem", "creation_event", "move", "step_events"]


def latest(session: Session, client_id: int, limit: int) -> Sequence[WorkItem]:
    """The client's most recent items (ids are time-ordered: the primary key, backwards)."""
    return session.scalars(
        select(WorkItem)
        .where(WorkItem.client_id == client_id, WorkItem.gold.is_(False))
        .order_by(WorkItem.id.desc())
        .limit(limit)
    ).all()


def list_visible(
    session: Session,
    principal: Principal,
    *,
    batch_id: uuid.UUID | None = None,
    process_id: uuid.UUID | None = None,
    state: State | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[WorkItem]:
    query = select(WorkItem).where(principal.work_item_condition())
    if batch_id is not None:
        query = query.where(WorkItem.batch_id == batch_id)
    if process_id is not None:
        query = query.where(WorkItem.process_id == process_id)
    if state is not None:
        query = query.where(WorkItem.state == state.value)
    query = query.order_by(WorkItem.received_at, WorkItem.id).limit(limit).offset(offset)
    return list(session.scalars(query).all())


def hold(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    reason: str,
    *,
    now: datetime,
    at_risk_fraction: float,
) -> WorkItem:
    """Waiting on someone outside the provider: the SLA clock stops with its time left."""
    from tandem.sla.service import policy_for

    item = get_visible(session, principal, item_id)
    policy = policy_for(session, item.client_id, item.process_id, at_risk_fraction)
    move(
        session,
        ItemRef.of(item),
        State.WAITING,
        actor=principal.actor,
        now=now,
        data={"reason": reason},
        changes={
            "sla_paused_remaining_s": policy.pause(now, item.due_at),
            "lease_owner": None,
            "lease_expires_at": None,
        },
    )
    session.refresh(item)
    return item


def resume(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    now: datetime,
    at_risk_fraction: float,
) -> WorkItem:
    from tandem.sla.service import policy_for

    item = get_visible(session, principal, item_id)
    if item.state != State.WAITING.value:
        raise IllegalTransition(State(item.state), State.QUEUED)
    policy = policy_for(session, item.client_id, item.process_id, at_risk_fraction)
    due_at, at_risk_at = policy.resume(now, item.sla_paused_remaining_s or 0.0)
    move(
        session,
        ItemRef.of(item),
        State.QUEUED,
        actor=principal.actor,
        now=now,
        changes={"due_at": due_at, "at_risk_at": at_risk_at, "sla_paused_remaining_s": None},
    )
    session.refresh(item)
    return item


def cancel(
    session: Session, principal: Principal, item_id: uuid.UUID, reason: str, *, now: datetime
) -> WorkItem:
    item = get_visible(session, principal, item_id)
    move(
        session,
        ItemRef.of(item),
        State.CANCELLED,
        actor=principal.actor,
        now=now,
        data={"reason": reason},
        changes={"lease_owner": None, "lease_expires_at": None},
    )
    session.refresh(item)
    return item
