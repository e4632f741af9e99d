"""SLA policies read from the catalog, and the periodic escalation job."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core import metrics
from tandem.core.errors import NotFound
from tandem.sla.policy import SlaPolicy
from tandem.tenancy.models import Client
from tandem.work.lifecycle import SLA_RUNNING
from tandem.work.models import WorkItem

_RUNNING = [state.value for state in SLA_RUNNING]


def policy_for(
    session: Session, client_id: int, process_id: uuid.UUID, at_risk_fraction: float
) -> SlaPolicy:
    row = session.execute(
        select(Process.sla_minutes, Process.sla_mode, Client.calendar)
        .join(Client, Client.id == Process.client_id)
        .where(Process.client_id == client_id, Process.id == process_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"process {process_id} not found")
    return SlaPolicy.for_process(row.sla_minutes, row.sla_mode, row.calendar, at_risk_fraction)


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
