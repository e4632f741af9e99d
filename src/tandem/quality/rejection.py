"""The client's rejection of a delivered result: an escaped defect, recorded as a review of
the kind `acceptance`, and the item redone."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.core.errors import Conflict, InvalidInput
from tandem.quality.policy import policy_of
from tandem.quality.reviews import checks_of, record
from tandem.tenancy.context import Context
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.work.transitions import ItemRef, move


def reject_delivered(
    ctx: Context, item_id: uuid.UUID, *, reason: str, fields: Iterable[str] = ()
) -> WorkItem:
    """The client sends a delivered result back: an escaped defect, counted against the
    agent who did the work (and against the outgoing-quality estimate), and the item goes
    back to the queue to be redone; the redone work is reviewed before it leaves again.
    Audited."""
    session, actor = ctx.session, ctx.principal.actor
    item = get_visible(ctx, item_id)
    if item.state != State.DELIVERED.value:
        raise Conflict(f"work item {item_id} is {item.state}: only a delivered item is rejected")
    policy = policy_of(session, item.client_id, item.process_id)
    named = list(fields)
    unknown = [name for name in named if name not in policy.criteria]
    if unknown:
        raise InvalidInput(
            "the rejection names fields the process form does not have",
            errors=[{"field": "fields", "message": f"unknown: {', '.join(unknown)}"}],
        )
    checks = checks_of({name: name not in named for name in policy.criteria}) if named else []
    record(
        session,
        policy,
        item.id,
        _worked_by(session, item),
        kind="acceptance",
        reviewer=actor,
        checks=checks,
        verdict="reject",
        reason=reason,
        defect=True,
        now=ctx.now,
    )
    move(
        session,
        ItemRef.of(item),
        (State.REWORK, State.QUEUED),
        actor=actor,
        now=ctx.now,
        data={"reason": reason, "rejected_by_client": True},
        changes={
            "lease_owner": None,
            "lease_expires_at": None,
            "delivered_at": None,
            "recheck": True,
        },
    )
    session.refresh(item)
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action="work_item.reject",
        subject=f"work_item:{item.id}",
        data={"reason": reason, "fields": named},
    )
    return item


def _worked_by(session: Session, item: WorkItem) -> uuid.UUID | None:
    """The agent who submitted the delivered result; None if the client's rules decided it."""
    actor = session.scalar(
        select(WorkItemEvent.actor)
        .where(
            WorkItemEvent.client_id == item.client_id,
            WorkItemEvent.work_item_id == item.id,
            WorkItemEvent.to_state == State.SUBMITTED.value,
        )
        .order_by(WorkItemEvent.seq.desc())
        .limit(1)
    )
    if actor is None or not actor.startswith("agent:"):
        return None
    return uuid.UUID(actor.removeprefix("agent:"))
