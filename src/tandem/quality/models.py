"""Quality control's tables: each agent's sampling state, reviews and their field checks,
double-entry keyings, gold items, alerts. Every table is the client's (client_id first)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id

# Why an item is looked at: screening and sample are CSP-1's two phases; full is a process
# that reviews everything; rework re-checks work that was sent back; double_entry is the
# comparison of two keyings that agreed, adjudication the settling of two that did not;
# gold scores a known-answer item; acceptance is a client's rejection of a delivered item
# (an escaped defect).
REVIEW_KINDS = (
    "screening",
    "sample",
    "full",
    "rework",
    "double_entry",
    "adjudication",
    "gold",
    "acceptance",
)
# What came of it: delivered as it was, corrected and delivered, sent back, rejected by the
# client, or (a gold item) retired once scored.
VERDICTS = ("deliver", "correct", "rework", "reject", "retire")
ERROR_CATEGORIES = (
    "omission",  # a value that should be there is missing
    "wrong_value",  # keyed or judged wrongly
    "format",  # right value, wrong form (units, date order, spelling of a code)
    "policy",  # against the client's rules or procedure
    "communication",  # tone, greeting, clarity (conversations)
    "compliance",  # a required statement or check left out
    "other",
)
# The criteria of a conversation's scorecard.
SCORECARD = ("greeting", "accuracy", "tone", "resolution", "compliance")


def _process_key() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["client_id", "process_id"], ["processes.client_id", "processes.id"]
    )


class AgentQuality(Base):
    """One agent's standing on one process: the CSP-1 phase and plan, and review counts."""

    __tablename__ = "qa_agent_states"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    screening: Mapped[bool] = mapped_column(default=True)
    passes_in_a_row: Mapped[int] = mapped_column(default=0)
    reviewed: Mapped[int] = mapped_column(default=0)
    defects: Mapped[int] = mapped_column(default=0)
    # The CSP-1 plan (i, f) chosen for the agent's measured defect rate.
    clearance: Mapped[int]
    fraction: Mapped[float]
    # Below the process's accuracy threshold: every item is reviewed until that recovers.
    below_threshold: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (_process_key(),)


class ReviewRequest(Base):
    """An item waiting in review, and why; deleted when the review is done."""

    __tablename__ = "qa_review_requests"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    process_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    # Whose work is checked (None for an adjudication: the keyings name their agents).
    agent_id: Mapped[uuid.UUID | None]
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        _process_key(),
        Index("ix_qa_review_requests_queue", "requested_at"),
    )


class Review(Base):
    """One look at one agent's work on one item, and what came of it."""

    __tablename__ = "qa_reviews"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    work_item_id: Mapped[uuid.UUID]
    process_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID | None]  # whose work (None: decided by the client's rules)
    reviewer: Mapped[str] = mapped_column(String(80))  # an actor: agent:..., user:..., system
    kind: Mapped[str] = mapped_column(String(16))
    defect: Mapped[bool]
    verdict: Mapped[str] = mapped_column(String(16))
    rework_to: Mapped[str | None] = mapped_column(String(8))  # same | other
    # [{"name": field or criterion, "passed": bool, "category": str | None}]
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        _process_key(),
        CheckConstraint(f"kind IN {REVIEW_KINDS}", name="kind"),
        CheckConstraint(f"verdict IN {VERDICTS}", name="verdict"),
        Index("ix_qa_reviews_agent", "client_id", "process_id", "agent_id", "at"),
        Index("ix_qa_reviews_item", "client_id", "work_item_id"),
        Index("ix_qa_reviews_at", "client_id", "at"),
    )


class FieldCheck(Base):
    """One field (or scorecard criterion) of one agent's work, found right or wrong: the
    unit of field-level accuracy."""

    __tablename__ = "qa_field_checks"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    review_id: Mapped[uuid.UUID]
    process_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID]
    field: Mapped[str] = mapped_column(String(120))
    passed: Mapped[bool]
    category: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    # By time, with whether each passed: the portal's accuracy over a period reads the index
    # alone.
    __table_args__ = (
        Index("ix_qa_field_checks_at", "client_id", "at", postgresql_include=["passed"]),
    )


class Keying(Base):
    """One of the two independent keyings of a double-entry item. Only the adjudication
    reads these, and only once both are in."""

    __tablename__ = "qa_keyings"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID]
    attempt: Mapped[int]
    # Kept as results are: personal fields masked, their clear values in `sealed`.
    values: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sealed: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("number IN (1, 2)", name="number"),)


class GoldItem(Base):
    """A known-answer item of a process, copied into its queue now and then to score agents."""

    __tablename__ = "qa_gold_items"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID]
    # The input as an item's is kept: personal fields in their masked forms, their clear
    # values in `sealed`, bound to the gold item (tandem.vault.sealing).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sealed: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[dict[str, Any]] = mapped_column(JSONType)
    answer_sealed: Mapped[str | None] = mapped_column(Text)  # as a result's (privacy.vault)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (_process_key(),)


class GoldCopy(Base):
    """Which gold item a gold work item is a copy of."""

    __tablename__ = "qa_gold_copies"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gold_item_id: Mapped[uuid.UUID]

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "gold_item_id"], ["qa_gold_items.client_id", "qa_gold_items.id"]
        ),
    )


class GoldSeeding(Base):
    """How far the gold job has counted a process's arrivals, and the gold items it owes."""

    __tablename__ = "qa_gold_seeding"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    counted_until: Mapped[datetime] = mapped_column(UTCDateTime)
    owed: Mapped[float] = mapped_column(default=0.0)

    __table_args__ = (_process_key(),)


class QualityAlert(Base):
    """An agent fell below a process's accuracy threshold: for the team lead."""

    __tablename__ = "qa_alerts"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID]
    accuracy: Mapped[float]
    low: Mapped[float]
    high: Mapped[float]
    threshold: Mapped[float]
    reviewed: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (_process_key(), Index("ix_qa_alerts_open", "client_id", "at"))
