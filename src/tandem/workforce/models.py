from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id


class DeliveryCenter(Base):
    __tablename__ = "delivery_centers"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    hourly_cost: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    holidays: Mapped[list[str]] = mapped_column(JSONType, default=list)


class Skill(Base):
    """Reference data: a skill agents hold at a level from 1 (trainee) to 5 (expert)."""

    __tablename__ = "skills"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Agent(Base):
    """A member of the provider's workforce: a BPO agent or a KPO analyst."""

    __tablename__ = "agents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    center_code: Mapped[str] = mapped_column(ForeignKey("delivery_centers.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    hired_on: Mapped[date | None]

    __table_args__ = (CheckConstraint("tier IN ('agent', 'analyst')", name="tier"),)


class AgentSkill(Base):
    __tablename__ = "agent_skills"

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    skill_code: Mapped[str] = mapped_column(ForeignKey("skills.code"), primary_key=True)
    level: Mapped[int]

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)


class AgentLanguage(Base):
    __tablename__ = "agent_languages"

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    cefr: Mapped[str] = mapped_column(String(2))

    __table_args__ = (CheckConstraint("cefr IN ('A1', 'A2', 'B1', 'B2', 'C1', 'C2')", name="cefr"),)


class AgentClearance(Base):
    """The agent may work on this client's items (background checks, NDA, training done)."""

    __tablename__ = "agent_clearances"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), primary_key=True)


class Shift(Base):
    """A weekly shift in the center's local time; may run past midnight."""

    __tablename__ = "shifts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), index=True)
    weekday: Mapped[int]
    start_minute: Mapped[int]
    duration_minutes: Mapped[int]

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_minute BETWEEN 0 AND 1439", name="start_minute"),
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="duration_minutes"),
    )


class AgentPresence(Base):
    """A change of an agent's presence (tandem.workforce.presence): available (signed in,
    ready for work), on a break, or signed out; since `at`, by which means. The provider's
    own record, per agent and never per client: no client_id, no audit (it is high-volume)."""

    __tablename__ = "agent_presence"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12))
    means: Mapped[str] = mapped_column(String(12))

    __table_args__ = (
        CheckConstraint("state IN ('available', 'break', 'signed_out')", name="state"),
        CheckConstraint("means IN ('sign_in', 'sign_out', 'console', 'api')", name="means"),
        Index("ix_agent_presence_agent_at", "agent_id", "at"),
    )
