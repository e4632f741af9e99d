"""Who may see, work on or reveal a work item now: the one place that decides, for the API,
the console, privacy, decisions and dispatch alike.

A lease counts only while it is live: held by the agent, in state leased, not expired, and (for
writes under the lease protocol) of the attempt the agent names, its fencing token. Anything
refused answers as a missing item does (404), so that nobody can probe for an item; the only
other answer is the 409 of the lease protocol, to an agent who held that very lease once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Connection, and_, false, select, true
from sqlalchemy.orm import Session

from tandem.core.errors import LeaseLost, NotFound
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent


def live_lease(
    agent_id: uuid.UUID, now: datetime, attempt: int | None = None
) -> ColumnElement[bool]:
    """Items leased to the agent now (and, given `attempt`, under that fencing token)."""
    condition = and_(
        WorkItem.lease_owner == agent_id,
        WorkItem.state == State.LEASED.value,
        WorkItem.lease_expires_at > now,
    )
    return condition if attempt is None else and_(condition, WorkItem.attempt == attempt)


def visible(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Work items this principal may read.

    Client users: their client's, gold items excepted (the provider's own test copies).
    Provider staff with read access: all. Anyone else who works items: only those leased to
    them now."""
    if principal.client_id is not None:
        return and_(WorkItem.client_id == principal.client_id, ~WorkItem.gold)
    if Permission.WORK_ITEM_READ in principal.permissions:
        return true()
    if principal.agent_id is not None:
        return live_lease(principal.agent_id, now)
    return false()


def get_visible(ctx: Context, item_id: uuid.UUID) -> WorkItem:
    """The item if the caller may see it now; otherwise NotFound, same as a missing item."""
    item = ctx.session.scalar(
        select(WorkItem).where(WorkItem.id == item_id, visible(ctx.principal, ctx.now))
    )
    if item is None:
        raise not_found(item_id)
    return item


def held(
    session: Session,
    agent_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    now: datetime,
    attempt: int | None = None,
) -> WorkItem:
    """The item leased to the agent now (under `attempt`, when given), to work on or reveal;
    otherwise NotFound, as for a missing item."""
    item = session.scalar(
        select(WorkItem).where(WorkItem.id == item_id, live_lease(agent_id, now, attempt))
    )
    if item is None:
        raise not_found(item_id)
    return item


def not_found(item_id: uuid.UUID) -> NotFound:
    """The one refusal: what a missing item gets."""
    return NotFound(f"work item {item_id} not found")


def refuse_lease(
    db: Session | Connection, agent_id: uuid.UUID, item_id: uuid.UUID, attempt: int
) -> NoReturn:
    """A fenced write under the lease protocol matched nothing: 409 to an agent who held
    this lease once (they claimed it, or operations assigned it to them; it expired, was
    released or taken back, so they claim again); 404 to anyone else."""
    leased: Any = db.execute(
        select(WorkItemEvent.actor, WorkItemEvent.data)
        .join(
            WorkItem,
            (WorkItem.client_id == WorkItemEvent.client_id)
            & (WorkItem.id == WorkItemEvent.work_item_id),
        )
        .where(
            WorkItem.id == item_id,
            WorkItemEvent.to_state == State.LEASED.value,
            WorkItemEvent.attempt == attempt,
        )
    ).all()
    held_once = any(
        actor == f"agent:{agent_id}" or (data or {}).get("assigned_to") == str(agent_id)
        for actor, data in leased
    )
    if not held_once:
        raise not_found(item_id)
    raise LeaseLost(
        f"your lease on work item {item_id} (attempt {attempt}) is no longer valid: "
        "it expired or was released; claim again"
    )
