from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id

URGENT = "state NOT IN ('delivered', 'cancelled') AND (at_risk OR breached) AND NOT gold"
REDELIVERED = "state = 'delivered' AND NOT gold AND first_due_at IS NOT NULL"


def batch_status(rows_accepted: int, rows_rejected: int) -> str:
    if rows_rejected == 0:
        return "accepted"
    return "partially_accepted" if rows_accepted else "rejected"


class Batch(Base):
    """The items of one uploaded file."""

    __tablename__ = "batches"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(20))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    # The first errors, each {"row", "field", "message"}; the counts above are complete.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A file handed over with an Idempotency-Key: the key, and the file's SHA-256 (a retry
    # must bring the same file).
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    file_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        ForeignKeyConstraint(["client_id"], ["clients.id"]),
        ForeignKeyConstraint(["client_id", "process_id"], ["processes.client_id", "processes.id"]),
        Index(
            "uq_batches_idempotency_key",
            "client_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        # A client's latest files, newest first: the portal's file list.
        Index("ix_batches_created", "client_id", "created_at"),
    )

    @property
    def status(self) -> str:
        return batch_status(self.rows_accepted, self.rows_rejected)


class WorkItem(Base):
    """One unit of work of a process. Its state only changes through tandem.work.transitions."""

    __tablename__ = "work_items"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID]
    batch_id: Mapped[uuid.UUID | None]
    external_ref: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # Bumped by every state change; the event of that change carries it as its sequence number.
    version: Mapped[int] = mapped_column(default=1)
    priority: Mapped[int] = mapped_column(default=0)
    routing_key: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    at_risk_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Business time left on the SLA clock while the item waits (clock paused), in seconds.
    sla_paused_remaining_s: Mapped[float | None]
    at_risk: Mapped[bool] = mapped_column(default=False)
    breached: Mapped[bool] = mapped_column(default=False)
    # Fencing token: incremented by every lease; a submit or heartbeat must present it.
    attempt: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The input; personal fields in their masked forms, their clear values in `sealed`,
    # encrypted with the client's key (tandem.vault.sealing).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sealed: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # personal data removed
    # A gold item: a copy of a known-answer item slipped in unannounced to score the agent
    # who works it (tandem.quality.gold); never shown to the client, never delivered.
    gold: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The agent who may not claim this item: its first keyer (double entry), or the agent
    # whose work a reviewer sent to someone else.
    excluded_agent_id: Mapped[uuid.UUID | None]
    # Sent back (by a reviewer or the client): the next submission is reviewed, whatever
    # the process's QA mode.
    recheck: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The result, kept as the input is: personal fields of the result form masked, their
    # clear values in `result_sealed` (tandem.vault.sealing).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    result_sealed: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The row of the client's file the item came from (the results file shows it).
    source_row: Mapped[int | None]
    # A result the client rejected (tandem.quality.rejection): when it was first delivered
    # and by when it was due then. The redo runs on a clock of its own (`due_at` from the
    # rework target); the client's SLA attainment counts the first delivery as it was.
    first_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The one foreign key: an item belongs to a process of its client (which implies the
        # client). Every key costs a lookup and a row lock per row written, and a file brings
        # 100,000 rows: the batch row is written by the same transaction as its items, and
        # neither batches nor processes are ever deleted, so a key to batches would only
        # halve the bulk intake rate (measured: 21,000 -> 28,000 rows/s on PostgreSQL).
        ForeignKeyConstraint(["client_id", "process_id"], ["processes.client_id", "processes.id"]),
        # Only items that came with an Idempotency-Key (not the rows of files) are indexed.
        Index(
            "uq_work_items_idempotency_key",
            "client_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        # Only claimable rows, in claim order: one short probe per routing key.
        Index(
            "ix_work_items_claimable",
            "client_id",
            "routing_key",
            "due_at",
            text("priority DESC"),
            "received_at",
            "id",
            # The claim's probes skip items excluded for the claiming agent in the index.
            postgresql_include=["excluded_agent_id"],
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        Index(
            "ix_work_items_lease_expiry",
            "lease_expires_at",
            postgresql_where=text("state = 'leased'"),
            sqlite_where=text("state = 'leased'"),
        ),
        # One index for the SLA job: open items not yet breached, by their at-risk instant,
        # which comes first (the check below); the breach query bounds it by `now` too.
        Index(
            "ix_work_items_sla_watch",
            "at_risk_at",
            postgresql_where=text(
                "NOT breached AND state NOT IN ('delivered', 'cancelled', 'waiting')"
            ),
            sqlite_where=text(
                "NOT breached AND state NOT IN ('delivered', 'cancelled', 'waiting')"
            ),
        ),
        CheckConstraint("at_risk_at <= due_at", name="sla_order"),
        # Partial, so that items outside a batch, and delivered or cancelled ones (the bulk of
        # the table in time), cost no index entry on the hot path's updates.
        Index(
            "ix_work_items_batch",
            "client_id",
            "batch_id",
            postgresql_where=text("batch_id IS NOT NULL"),
            sqlite_where=text("batch_id IS NOT NULL"),
        ),
        # Open work per process and state; it carries what the operations floor counts, so
        # the floor reads the index alone.
        Index(
            "ix_work_items_open",
            "client_id",
            "process_id",
            "state",
            postgresql_include=["routing_key", "at_risk", "breached", "gold"],
            postgresql_where=text("state NOT IN ('delivered', 'cancelled')"),
            sqlite_where=text("state NOT IN ('delivered', 'cancelled')"),
        ),
        # Open work at risk or breached, soonest due first (the floor's list).
        Index(
            "ix_work_items_urgent",
            "due_at",
            postgresql_where=text(URGENT),
            sqlite_where=text(URGENT),
        ),
        Index("ix_work_items_id", "id"),
        # The client's own reference, as clients look their items up (API, portal).
        Index(
            "ix_work_items_reference",
            "client_id",
            "external_ref",
            postgresql_where=text("external_ref IS NOT NULL"),
            sqlite_where=text("external_ref IS NOT NULL"),
        ),
        # The client's delivered work by delivery time, with what its KPIs read (SLA
        # attainment, turnaround, cost per process): an index-only range scan, also under the
        # tenant policy, which reads `gold`.
        Index(
            "ix_work_items_delivered",
            "client_id",
            "delivered_at",
            postgresql_include=["process_id", "received_at", "due_at", "gold"],
            postgresql_where=text("state = 'delivered' AND NOT gold"),
            sqlite_where=text("state = 'delivered' AND NOT gold"),
        ),
        # The few of them delivered again after the client rejected them, with their first
        # delivery: SLA attainment counts that one (tandem.reports.kpis), index-only too.
        Index(
            "ix_work_items_redelivered",
            "client_id",
            "delivered_at",
            postgresql_include=["due_at", "first_delivered_at", "first_due_at", "gold"],
            postgresql_where=text(REDELIVERED),
            sqlite_where=text(REDELIVERED),
        ),
    )


class WorkItemEvent(Base):
    """One state change of a work item, written in the same transaction as the change."""

    __tablename__ = "work_item_events"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    attempt: Mapped[int]
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    # No foreign key to work_items: events are appended only by the functions that change
    # the item, in the same transaction, and items are deleted only with all of a client's
    # data at the end of its contract; the key's check locked the item row for every event
    # (one more WAL record per claim, per step, per intake row).
    # By time: the audit trail seals each client's events window by window
    # (tandem.work.trail), and the operations floor counts them per hour.
    __table_args__ = (Index("ix_work_item_events_at", "client_id", "at"),)
