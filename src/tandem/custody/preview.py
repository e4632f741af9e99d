"""What the console shows before and while custody acts on a client's data.

`purge_preview` counts what a retention purge would anonymize now, per process, with the
oldest and newest of those items: the very items `tandem.custody.retention.purge_due`
selects (done, last changed before the cutoff, not purged yet), and the copies it would drop
with them; and the service desk's conversations it would purge (finished before the
cutoff, as tandem.servicedesk.custody says), with their messages, attachments, survey
comments and the customers whose names and identities would go. `purge_now` runs that
purge at once, when a person confirms the preview: for the items done and conversations
finished before the cutoff the preview showed (never later than the retention period
allows), with a purge report and an audit record naming who asked. `items_behind` tells how
many of a client's items a key rotation has still to re-seal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.core.errors import Conflict, NotFound
from tandem.custody.models import KeyRotation, PurgeReport
from tandem.custody.retention import CONVERSATION_KINDS, DONE, ITEM_KINDS, anonymize
from tandem.delivery.models import WebhookDelivery
from tandem.documents.models import Document
from tandem.quality.models import Keying
from tandem.servicedesk import custody as desk
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.work.models import WorkItem

# One confirmation purges this many items at most (in one transaction); the rest stay due
# and the worker's next pass, or another confirmation, goes on with them.
PURGE_LIMIT = 10_000
_CHUNK = 1_000  # items anonymized per statement batch


@dataclass(frozen=True)
class ProcessDue:
    """A process's items a purge would anonymize now."""

    process_id: uuid.UUID
    name: str
    items: int
    oldest: datetime  # the earliest of their last changes (when they were done)
    newest: datetime


@dataclass(frozen=True)
class PurgePreview:
    client_id: int
    days: int | None  # the client's retention period; None: kept until the contract ends
    cutoff: datetime | None  # items done before this are due; None: nothing is purged
    processes: list[ProcessDue]
    documents: int
    keyings: int
    webhook_deliveries: int
    # the service desk's (tandem.servicedesk.custody.counted)
    conversations: int = 0
    messages: int = 0  # their sealed texts
    attachments: int = 0
    survey_comments: int = 0
    customers: int = 0  # whose names and identities go

    @property
    def items(self) -> int:
        return sum(process.items for process in self.processes)


@dataclass(frozen=True)
class Purge:
    """A purge run on request: its report (None if nothing was due) and how many items are
    due now by the retention period (the limit reached, or done since the preview)."""

    report: PurgeReport | None
    remaining: int
    conversations_remaining: int = 0


def _client(session: Session, client_id: int, *, lock: bool = False) -> Client:
    client = session.get(Client, client_id, with_for_update=lock)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


def _due(client_id: int, cutoff: datetime) -> ColumnElement[bool]:
    """The items `purge_due` anonymizes (tandem.custody.retention), for one client."""
    due: ColumnElement[bool] = (
        (WorkItem.client_id == client_id)
        & WorkItem.state.in_(DONE)
        & (WorkItem.updated_at < cutoff)
        & WorkItem.purged_at.is_(None)
    )
    return due


def purge_preview(ctx: Context, client_id: int) -> PurgePreview:
    """What a purge of the client would anonymize now, and the copies it would drop."""
    client = _client(ctx.session, client_id)
    days = client.retention_days
    if days is None or client.ended_at is not None:
        return PurgePreview(client_id, days, None, [], 0, 0, 0)
    cutoff = ctx.now - timedelta(days=days)
    due = _due(client_id, cutoff)
    session = ctx.session
    processes = [
        ProcessDue(row.process_id, row.name, int(row.items), row.oldest, row.newest)
        for row in session.execute(
            select(
                WorkItem.process_id,
                Process.name,
                func.count().label("items"),
                func.min(WorkItem.updated_at).label("oldest"),
                func.max(WorkItem.updated_at).label("newest"),
            )
            .join(
                Process,
                (Process.client_id == WorkItem.client_id) & (Process.id == WorkItem.process_id),
            )
            .where(due)
            .group_by(WorkItem.process_id, Process.name)
            .order_by(Process.name)
        )
    ]
    items = select(WorkItem.id).where(due).scalar_subquery()

    def counted(table: type[Document] | type[Keying] | type[WebhookDelivery]) -> int:
        where = (table.client_id == client_id) & table.work_item_id.in_(items)
        if table is WebhookDelivery:
            where &= WebhookDelivery.status != "pending"  # kept until sent (as the purge does)
        return int(session.scalar(select(func.count()).select_from(table).where(where)) or 0)

    return PurgePreview(
        client_id,
        days,
        cutoff,
        processes,
        documents=counted(Document) if processes else 0,
        keyings=counted(Keying) if processes else 0,
        webhook_deliveries=counted(WebhookDelivery) if processes else 0,
        **desk.counted(session, client_id, cutoff),
    )


def purge_now(ctx: Context, client_id: int, cutoff: datetime, *, limit: int = PURGE_LIMIT) -> Purge:
    """Anonymize the client's items done and conversations finished before `cutoff` (at most
    its retention period ago), `limit` at most of each, as the worker's purge would; a purge
    report and an audit record as the one who asked. Conflict if the client keeps its data
    (no period) or has left."""
    session = ctx.session
    client = _client(session, client_id, lock=True)
    if client.ended_at is not None:
        raise Conflict(f"client {client_id}'s contract ended: its data is gone already")
    if client.retention_days is None:
        raise Conflict(f"client {client_id} has no retention period: nothing is purged")
    cutoff = min(cutoff, ctx.now - timedelta(days=client.retention_days))
    due = _due(client_id, cutoff)
    rows = session.execute(
        select(WorkItem.id, WorkItem.process_id)
        .where(due)
        .order_by(WorkItem.updated_at, WorkItem.id)
        .limit(limit)
    ).all()
    conversations = desk.due_ids(session, client_id, cutoff, limit)
    now_cutoff = ctx.now - timedelta(days=client.retention_days)
    now_due = _due(client_id, now_cutoff)

    def remaining() -> Purge:
        items = session.scalar(select(func.count()).select_from(WorkItem).where(now_due))
        left = desk.counted(session, client_id, now_cutoff)["conversations"]
        return Purge(None, int(items or 0), left)

    if not rows and not conversations:
        return remaining()
    counts = dict.fromkeys((*ITEM_KINDS, *CONVERSATION_KINDS), 0)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        for kind, count in anonymize(session, client_id, chunk, ctx.now).items():
            counts[kind] = counts.get(kind, 0) + count
    for start in range(0, len(conversations), _CHUNK):
        chunk_ids = conversations[start : start + _CHUNK]
        for kind, count in desk.purge(session, client_id, chunk_ids, cutoff).items():
            counts[kind] = counts.get(kind, 0) + count
    report = PurgeReport(
        client_id=client_id, reason="retention", at=ctx.now, cutoff=cutoff, counts=counts
    )
    session.add(report)
    session.flush()
    audit.record_in(
        ctx,
        client_id=client_id,
        action="personal_data.purge",
        subject=f"purge_report:{report.id}",
        data={"reason": "retention", "cutoff": cutoff.isoformat(), "on_request": True, **counts},
    )
    left = remaining()
    return Purge(report, left.remaining, left.conversations_remaining)


def items_behind(session: Session, rotation: KeyRotation) -> int:
    """The rotation's client's items with a value not yet sealed under its key (0 once it
    has finished: whatever is left was superseded or purged)."""
    if rotation.finished_at is not None:
        return 0
    target = rotation.target

    def behind(column: ColumnElement[str | None]) -> ColumnElement[bool]:
        old: ColumnElement[bool] = column.is_not(None) & ~column.startswith(target, autoescape=True)
        return old

    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkItem)
            .where(
                WorkItem.client_id == rotation.client_id,
                behind(WorkItem.sealed) | behind(WorkItem.result_sealed),  # type: ignore[arg-type]
            )
        )
        or 0
    )


def purge_history(ctx: Context, client_id: int, limit: int = 50) -> list[PurgeReport]:
    """The client's purge reports, latest first (the caller's own client only, for a
    client's people)."""
    return list(
        ctx.session.scalars(
            select(PurgeReport)
            .where(
                PurgeReport.client_id == client_id,
                ctx.principal.client_condition(PurgeReport.client_id),
            )
            .order_by(PurgeReport.at.desc())
            .limit(limit)
        )
    )
