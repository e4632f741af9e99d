"""The operations view of the queues: open work per client, process and state, with how
much of it is at risk or breached."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from tandem.catalog.models import Process
from tandem.tenancy.context import Context
from tandem.work.models import WorkItem


@dataclass(frozen=True)
class QueueDepth:
    client_id: int
    process_id: uuid.UUID
    process_code: str
    state: str
    items: int
    at_risk: int
    breached: int


def queue_depth(ctx: Context) -> list[QueueDepth]:
    """Work items neither delivered nor cancelled, by client, process (by code) and state."""
    rows = ctx.session.execute(
        select(
            WorkItem.client_id,
            WorkItem.process_id,
            Process.code,
            WorkItem.state,
            func.count(),
            func.count().filter(WorkItem.at_risk),
            func.count().filter(WorkItem.breached),
        )
        .join(
            Process,
            (Process.client_id == WorkItem.client_id) & (Process.id == WorkItem.process_id),
        )
        .where(WorkItem.state.notin_(("delivered", "cancelled")))
        .group_by(WorkItem.client_id, WorkItem.process_id, Process.code, WorkItem.state)
        .order_by(WorkItem.client_id, Process.code, WorkItem.state)
    ).all()
    return [QueueDepth(*row) for row in rows]
