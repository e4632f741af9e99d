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

from sqlalchemy import Connection, Row, Table, insert, update
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core import metrics
from tandem.core.db import new_id
from tandem.core.errors import Conflict
from tandem.sla.policy import SlaPolicy
from tandem.tenancy.principal import Principal
from tandem.work.access import get_visible
from tandem.work.lifecycle import SLA_RUNNING, IllegalTransition, State, check_transition
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


__all__ = ["IllegalTransition", "ItemRef", "StaleItem", "creation_event", "move", "step_events"]


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
    from tandem.catalog.service import policy_for

    item = get_visible(session, principal, item_id, now=now)
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
    from tandem.catalog.service import policy_for

    item = get_visible(session, principal, item_id, now=now)
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
    item = get_visible(session, principal, item_id, now=now)
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


_RUNNING = [state.value for state in SLA_RUNNING]


def escalate(session: Session, now: datetime, priority_boost: int) -> tuple[int, int]:
    """Mark open items at risk (and raise their priority) and breached. Returns both counts."""
    at_risk = session.execute(
        update(WorkItem)
        .where(
            WorkItem.at_risk_at <= now,
            ~WorkItem.at_risk,
            ~WorkItem.breached,  # the index's rows; the breach mark below comes after this one
            WorkItem.state.in_(_RUNNING),
        )
        .values(at_risk=True, priority=WorkItem.priority + priority_boost)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    breached = session.execute(
        update(WorkItem)
        .where(
            WorkItem.at_risk_at <= now,  # implied (at_risk_at <= due_at): the index's range
            WorkItem.due_at <= now,
            ~WorkItem.breached,
            WorkItem.state.in_(_RUNNING),
        )
        .values(breached=True)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    metrics.SLA_BREACHES.inc(breached)
    return int(at_risk), int(breached)


def new_item_row(
    process: Process,
    policy: SlaPolicy,
    payload: dict[str, Any],
    now: datetime,
    *,
    due: tuple[datetime, datetime] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    due_at, at_risk_at = due or policy.start(now)
    return {
        "client_id": process.client_id,
        "id": new_id(),
        "process_id": process.id,
        "state": State.QUEUED.value,
        "version": 1,
        "priority": process.priority,
        "routing_key": process.routing_key,
        "received_at": now,
        "due_at": due_at,
        "at_risk_at": at_risk_at,
        "at_risk": False,
        "breached": False,
        "attempt": 0,
        "payload": payload,
        "updated_at": now,
        **extra,
    }
