"""The client's rejection of a delivered result: an escaped defect, recorded as a review of
the kind `acceptance`, and the item redone on a clock of its own (the process's rework
target), its first delivery kept for the client's SLA attainment."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.catalog.service import policy_for
from tandem.core.errors import Conflict, InvalidInput
from tandem.quality.policy import policy_of
from tandem.quality.reviews import checks_of, record
from tandem.tenancy.context import Context
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.work.transitions import ItemRef, move


def reject_delivered(
    ctx: Context,
    item_id: uuid.UUID,
    *,
    reason: str,
    fields: Iterable[str] = (),
    at_risk_fraction: float,
) -> WorkItem:
    """The client sends a delivered result back: an escaped defect, counted against the
    agent who did the work (and against the outgoing-quality estimate), and the item goes
    back to the queue to be redone; the redone work is reviewed before it leaves again.
    Audited.

    The redo is due the process's rework target from now (its own target when it sets
    none), not at the first due time, long past by then: it is neither at risk nor
    breached (the SLA sweep marks it again against the new due time), and has the
    process's priority back (an at-risk boost of the first run is not carried over). The
    first delivery and its due time are kept (`first_delivered_at`, `first_due_at`; the
    first ones if the item is rejected again): the client's SLA attainment counts that
    delivery, on time or late as it was, and not the redo (tandem.reports.kpis)."""
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
    sla = policy_for(session, item.client_id, item.process_id, at_risk_fraction)
    due_at, at_risk_at = sla.rework(ctx.now)
    priority = session.scalar(
        select(Process.priority).where(
            Process.client_id == item.client_id, Process.id == item.process_id
        )
    )
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
        data={"reason": reason, "rejected_by_client": True, "due_at": due_at.isoformat()},
        changes={
            "lease_owner": None,
            "lease_expires_at": None,
            "delivered_at": None,
            "recheck": True,
            "first_delivered_at": item.first_delivered_at or item.delivered_at,
            "first_due_at": item.first_due_at or item.due_at,
            "due_at": due_at,
            "at_risk_at": at_risk_at,
            "at_risk": False,
            "breached": False,
            "priority": priority,
        },
    )
    session.refresh(item)
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action="work_item.reject",
        subject=f"work_item:{item.id}",
        data={"reason": reason, "fields": named, "due_at": due_at.isoformat()},
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
