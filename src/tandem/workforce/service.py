"""Reading the workforce: who an agent is and which queues they may serve."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.errors import NotFound
from tandem.tenancy.models import User
from tandem.tenancy.permissions import ROLES, Permission
from tandem.workforce.eligibility import AgentProfile, QueueRequirements, WeeklyShift
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
)


def agent_profile(session: Session, agent_id: uuid.UUID) -> AgentProfile:
    row = session.execute(
        select(Agent.active, DeliveryCenter.timezone, User.role)
        .join(DeliveryCenter, DeliveryCenter.code == Agent.center_code)
        .outerjoin(User, User.id == Agent.user_id)
        .where(Agent.id == agent_id)
    ).one_or_none()
    if row is None or not row.active:
        raise NotFound(f"agent {agent_id} not found")
    skills = session.execute(
        select(AgentSkill.skill_code, AgentSkill.level).where(AgentSkill.agent_id == agent_id)
    ).all()
    languages = session.execute(
        select(AgentLanguage.language, AgentLanguage.cefr).where(AgentLanguage.agent_id == agent_id)
    ).all()
    clients = session.scalars(
        select(AgentClearance.client_id).where(AgentClearance.agent_id == agent_id)
    ).all()
    shifts = session.execute(
        select(Shift.weekday, Shift.start_minute, Shift.duration_minutes).where(
            Shift.agent_id == agent_id
        )
    ).all()
    return AgentProfile(
        skills={code: level for code, level in skills},
        languages={lang: cefr for lang, cefr in languages},
        cleared_clients=frozenset(clients),
        center_timezone=row.timezone,
        shifts=tuple(WeeklyShift(*shift) for shift in shifts),
        judges=row.role is None or Permission.DECISION_JUDGE in ROLES.get(row.role, ()),
    )


def queue_requirements(session: Session, client_ids: frozenset[int]) -> list[QueueRequirements]:
    """Requirements of every active process of these clients."""
    if not client_ids:
        return []
    processes = session.scalars(
        select(Process).where(Process.client_id.in_(client_ids), Process.active)
    ).all()
    return [
        QueueRequirements(
            p.client_id,
            p.routing_key,
            p.required_skills,
            p.language,
            p.min_cefr,
            judged=p.kind == "decision",
        )
        for p in processes
    ]
