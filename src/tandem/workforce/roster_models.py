"""The tables of rosters (tandem.workforce.rosters): the provider's own, like every workforce
table (the agents are the provider's), with no client_id and no row-level security."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id


class Roster(Base):
    """A plan of dated shifts for the agents of some centers over `days` local dates from
    `first_date` (tandem.workforce.rosters). Draft until published; a published roster decides
    its centers' dates (`roster_days`) until a later one published over them supersedes it."""

    __tablename__ = "rosters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    centers: Mapped[list[str]] = mapped_column(JSONType)
    agent_ids: Mapped[list[str]] = mapped_column(JSONType)  # the agents planned (days off too)
    first_date: Mapped[date] = mapped_column(Date)
    days: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default="draft")
    source: Mapped[dict[str, Any]] = mapped_column(JSONType)  # where the requirement came from
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the labour rules solved under
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)  # the requirement's first interval
    intervals: Mapped[int]  # 15-minute intervals of the requirement
    cost_cents: Mapped[int] = mapped_column(BigInteger)
    # cost + penalty for staff short + the weight of agents' requests not granted
    objective_cents: Mapped[int] = mapped_column(BigInteger)
    short_agent_intervals: Mapped[int]
    coverage: Mapped[float]
    solver_status: Mapped[str] = mapped_column(String(16))
    solver_seconds: Mapped[float]
    created_by: Mapped[uuid.UUID | None]  # the principal's id (a user, or an API key)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[uuid.UUID | None]
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('draft', 'published', 'superseded')", name="state"),
        CheckConstraint("days BETWEEN 1 AND 28", name="days"),
    )


class RosterShift(Base):
    """One agent's shift on one local date of a roster: real start and end in UTC."""

    __tablename__ = "roster_shifts"

    roster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rosters.id"), primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    center_code: Mapped[str] = mapped_column(ForeignKey("delivery_centers.code"))
    start_minute: Mapped[int]  # local wall-clock start, minutes after midnight
    minutes: Mapped[int]  # wall-clock length
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cost_cents: Mapped[int]
    night_minutes: Mapped[int]

    __table_args__ = (Index("ix_roster_shifts_agent_date", "agent_id", "local_date"),)


class RosterRequirement(Base):
    """The agents a roster was asked to have on duty in one 15-minute UTC interval."""

    __tablename__ = "roster_requirements"

    roster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rosters.id"), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    required: Mapped[int]


class RosterDay(Base):
    """Which published roster decides a center's local date: the last one published over it."""

    __tablename__ = "roster_days"

    center_code: Mapped[str] = mapped_column(ForeignKey("delivery_centers.code"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    roster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rosters.id"), index=True)


REQUEST_KINDS = ("day_off", "shift_start")
REQUEST_STATUSES = ("pending", "granted", "not_granted", "withdrawn")


class ShiftRequest(Base):
    """An agent's wish for one local date at their center (tandem.workforce.shift_requests):
    a day off, or a shift starting at a local time. Soft: the roster solver weighs it below
    coverage. Pending until a roster covering the date is planned (granted or not granted in
    `roster_id`, re-decided by the roster published over it); withdrawn by the agent."""

    __tablename__ = "shift_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    local_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    start_minute: Mapped[int | None]  # shift_start: local wall-clock minutes after midnight
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    roster_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rosters.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('day_off', 'shift_start')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'granted', 'not_granted', 'withdrawn')", name="status"
        ),
        CheckConstraint(
            "(kind = 'shift_start' AND start_minute BETWEEN 0 AND 1439)"
            " OR (kind = 'day_off' AND start_minute IS NULL)",
            name="start_minute",
        ),
        Index("ix_shift_requests_agent_date", "agent_id", "local_date"),
        Index("ix_shift_requests_date", "local_date"),
    )
