from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id

PROCESS_KINDS = ("data_entry", "decision", "conversation")
SLA_MODES = ("business_hours", "24x7")
# How a process's work is checked before delivery (tandem.quality): not at all, a CSP-1
# sample per agent, two independent keyings compared, or every item by a reviewer.
QA_MODES = ("none", "sampling", "double_entry", "full_review")


class Process(Base):
    """A service catalog entry: one business process a client has outsourced."""

    __tablename__ = "processes"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # JSON Schema of what a work item brings in: document fields, application data, a ticket.
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # JSON Schema of the result an agent or analyst produces and the client receives.
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # {skill code: minimum level}
    required_skills: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    language: Mapped[str | None] = mapped_column(String(8))
    min_cefr: Mapped[str | None] = mapped_column(String(2))
    sla_minutes: Mapped[int]
    sla_mode: Mapped[str] = mapped_column(String(20))
    # The rework target: how long the redo of a result the client rejected may take, from
    # the rejection, on the same calendar; None: the process's own target (`sla_minutes`).
    rework_sla_minutes: Mapped[int | None]
    priority: Mapped[int] = mapped_column(default=0)
    price_per_item: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(0))
    qa_mode: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    # The promised outgoing defect rate: the AOQL sampling plans are chosen to meet.
    qa_aoql: Mapped[float] = mapped_column(default=0.01, server_default=text("0.01"))
    # An agent whose reviewed items pass less often than this goes back to full review.
    qa_min_accuracy: Mapped[float] = mapped_column(default=0.95, server_default=text("0.95"))
    # Share of extra gold items (known answers) slipped into the process's queue.
    qa_gold_rate: Mapped[float] = mapped_column(default=0.0, server_default=text("0"))
    # Categories of personal fields (x-personal in the input form) agents see unmasked.
    agent_visible_personal: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default="[]"
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("client_id", "code"),
        CheckConstraint("kind IN ('data_entry', 'decision', 'conversation')", name="kind"),
        CheckConstraint("sla_mode IN ('business_hours', '24x7')", name="sla_mode"),
        CheckConstraint("sla_minutes > 0", name="sla_minutes"),
        CheckConstraint("rework_sla_minutes > 0", name="rework_sla_minutes"),
        CheckConstraint(
            "qa_mode IN ('none', 'sampling', 'double_entry', 'full_review')", name="qa_mode"
        ),
        CheckConstraint("qa_aoql > 0 AND qa_aoql < 1", name="qa_aoql"),
        CheckConstraint("qa_min_accuracy BETWEEN 0 AND 1", name="qa_min_accuracy"),
        CheckConstraint("qa_gold_rate BETWEEN 0 AND 1", name="qa_gold_rate"),
    )

    @property
    def routing_key(self) -> str:
        """Items of a process queue under its code; an agent serves a (client, key) pair."""
        return self.code
