"""Rulesets (versions of a decision process's JDM graph), their test cases, and decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id

STATUSES = ("draft", "published", "retired")
OUTCOMES = ("approve", "decline", "refer")


class Ruleset(Base):
    """One version of a decision process's rules. Only a draft changes; publishing a version
    retires the one published before it; a published or retired version never changes."""

    __tablename__ = "rulesets"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID]
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="draft")
    graph: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Four-eyes rule: {"declines": bool, "amount_field": str, "above": number}; {} = none.
    four_eyes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # How the graph's result reads as an outcome (tandem.decisions.evaluator.Mapping); None:
    # the result's own `outcome`, `reasons` and `recommendation`.
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The version's reasons catalogue, {code: {"label": ..., "description": ...}}
    # (tandem.decisions.reasons); None: none given, its codes read in words.
    reasons: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who uploaded and who published the version (Principal.actor); None before 0022.
    created_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(80))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "process_id"], ["processes.client_id", "processes.id"]),
        UniqueConstraint("client_id", "process_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        # At most one published version per process, even when two are published at once.
        Index(
            "uq_rulesets_published",
            "client_id",
            "process_id",
            unique=True,
            postgresql_where=text("status = 'published'"),
            sqlite_where=text("status = 'published'"),
        ),
    )


class RulesetTest(Base):
    """A test case of a version: this input must give a result containing `expected`."""

    __tablename__ = "ruleset_tests"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    ruleset_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    input: Mapped[dict[str, Any]] = mapped_column(JSONType)
    expected: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "ruleset_id"], ["rulesets.client_id", "rulesets.id"]),
        UniqueConstraint("client_id", "ruleset_id", "name"),
    )


class Decision(Base):
    """An outcome for a work item: by the rules (`by` = 'rules', with the version that
    decided; on a referral `recommended` is their advice, if any), by an analyst
    ('analyst'; `recommended` is the rules' advice, and an outcome that differs from it is an
    override), or a four-eyes confirmation ('confirmation')."""

    __tablename__ = "decisions"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    work_item_id: Mapped[uuid.UUID]
    process_id: Mapped[uuid.UUID]
    by: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    ruleset_id: Mapped[uuid.UUID | None]
    ruleset_version: Mapped[int | None]
    recommended: Mapped[str | None] = mapped_column(String(10))
    override: Mapped[bool] = mapped_column(default=False)
    actor: Mapped[str] = mapped_column(String(80))
    notes: Mapped[str | None] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "process_id"], ["processes.client_id", "processes.id"]),
        CheckConstraint("outcome IN ('approve', 'decline', 'refer')", name="outcome"),
        CheckConstraint("by IN ('rules', 'analyst', 'confirmation')", name="by"),
        Index("ix_decisions_item", "client_id", "work_item_id"),
        Index("ix_decisions_process", "client_id", "process_id", "by"),
        # The rules' decisions by time, with their outcome: the portal's straight-through
        # rate over a period reads the index alone.
        Index(
            "ix_decisions_rules_at",
            "client_id",
            "at",
            postgresql_include=["outcome"],
            postgresql_where=text("by = 'rules'"),
            sqlite_where=text("by = 'rules'"),
        ),
    )
