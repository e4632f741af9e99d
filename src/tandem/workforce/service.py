"""The workforce: who an agent is and which queues they may serve; adding agents and
changing their skills, languages, clearances and shifts, each change audited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, astuple, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER
from tandem.core.db import Base
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.tenancy.models import Client, User
from tandem.tenancy.permissions import AGENT_ROLES, ROLES, Permission
from tandem.tenancy.principal import Principal
from tandem.workforce.eligibility import (
    CEFR_LEVELS,
    AgentProfile,
    WeeklyShift,
)
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
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


# -- administering the workforce -------------------------------------------------------------
# Each use case changes one agent in the caller's transaction, under a lock of the agent's row
# (concurrent changes to one agent queue up instead of colliding), and appends an audit record
# to the provider's chain with the data before and after; a clearance change is also recorded
# on the chain of each client it grants or removes access to. The caller drops the
# dispatcher's cached queues of the agent once the transaction commits
# (Dispatcher.forget_agent).

TIERS = ("agent", "analyst")
SKILL_LEVELS = range(1, 6)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,4})?")  # en, fil, pt-BR: 8 at most


@dataclass(frozen=True)
class AgentDetails:
    """An agent with everything that decides which queues they may serve."""

    id: uuid.UUID
    name: str
    center_code: str
    tier: str
    active: bool
    user_id: uuid.UUID | None
    skills: dict[str, int]
    languages: dict[str, str]
    client_ids: list[int]
    shifts: list[WeeklyShift]


def agent_details(session: Session, agent_id: uuid.UUID) -> AgentDetails:
    """Active or not; NotFound for an id that names no agent."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return _details(session, agent)


def create_agent(
    session: Session,
    principal: Principal,
    *,
    name: str,
    center_code: str,
    tier: str,
    user_id: uuid.UUID | None,
    now: datetime,
    key: bytes,
) -> AgentDetails:
    """A new agent, with no skills, languages, clearances or shifts yet: they serve no queue
    until those are given. A sign-in (`user_id`) must be a provider user with an agent role
    (agent, analyst, team lead) who has no agent profile yet."""
    errors: list[dict[str, str]] = []
    if tier not in TIERS:
        errors.append({"field": "tier", "message": f"must be one of {', '.join(TIERS)}"})
    if session.get(DeliveryCenter, center_code) is None:
        errors.append(
            {"field": "center_code", "message": f"unknown delivery center {center_code!r}"}
        )
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.client_id is not None:
            errors.append({"field": "user_id", "message": "no provider user has this id"})
        elif user.role not in AGENT_ROLES:
            roles = ", ".join(sorted(AGENT_ROLES))
            message = f"the user's role ({user.role}) is none of the agent roles ({roles})"
            errors.append({"field": "user_id", "message": message})
        elif not user.active:
            errors.append({"field": "user_id", "message": "the user is deactivated"})
    if errors:
        raise InvalidInput("the agent is invalid", errors=errors)
    if user_id is not None:
        linked = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
        if linked is not None:
            raise _linked(linked)
    agent = Agent(name=name, center_code=center_code, tier=tier, user_id=user_id, active=True)
    session.add(agent)
    try:
        session.flush()
    except IntegrityError:
        if user_id is None:
            raise
        raise _linked(None) from None  # taken by another agent at the same moment
    after = {
        "name": name,
        "center_code": center_code,
        "tier": tier,
        "user_id": str(user_id) if user_id is not None else None,
    }
    _trail(session, key, principal, agent.id, "agent.create", now, None, after)
    return _details(session, agent)


def _linked(agent_id: uuid.UUID | None) -> Conflict:
    whose = f" (agent {agent_id})" if agent_id is not None else ""
    message = f"the user already has an agent profile{whose}"
    return Conflict(message, errors=[{"field": "user_id", "message": message}])


def replace_skills(
    session: Session,
    principal: Principal,
    agent_id: uuid.UUID,
    skills: Mapping[str, int],
    *,
    now: datetime,
    key: bytes,
) -> AgentDetails:
    """The agent's skills become exactly these, each at a level from 1 to 5."""
    agent = _changeable(session, agent_id)
    known = set(session.scalars(select(Skill.code).where(Skill.code.in_(list(skills)))))
    errors = []
    for code, level in skills.items():
        if code not in known:
            errors.append({"field": f"skills.{code}", "message": f"unknown skill {code!r}"})
        elif level not in SKILL_LEVELS:
            errors.append({"field": f"skills.{code}", "message": "the level must be 1 to 5"})
    if errors:
        raise InvalidInput("the skills are invalid", errors=errors)
    before = _skills(session, agent_id)
    session.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
    _insert(
        session,
        AgentSkill,
        [{"agent_id": agent_id, "skill_code": c, "level": n} for c, n in sorted(skills.items())],
    )
    _trail(
        session, key, principal, agent_id, "agent.skills", now, before, dict(sorted(skills.items()))
    )
    return _details(session, agent)


def replace_languages(
    session: Session,
    principal: Principal,
    agent_id: uuid.UUID,
    languages: Mapping[str, str],
    *,
    now: datetime,
    key: bytes,
) -> AgentDetails:
    """The agent's languages become exactly these, each with its CEFR level (A1 to C2)."""
    agent = _changeable(session, agent_id)
    errors = []
    for code, cefr in languages.items():
        if not LANGUAGE_CODE.fullmatch(code):
            message = "not a language code (two or three lowercase letters, e.g. en, fil, pt-BR)"
            errors.append({"field": f"languages.{code}", "message": message})
        elif cefr not in CEFR_LEVELS:
            message = f"the level must be one of {', '.join(CEFR_LEVELS)}"
            errors.append({"field": f"languages.{code}", "message": message})
    if errors:
        raise InvalidInput("the languages are invalid", errors=errors)
    before = _languages(session, agent_id)
    session.execute(delete(AgentLanguage).where(AgentLanguage.agent_id == agent_id))
    after = dict(sorted(languages.items()))
    _insert(
        session,
        AgentLanguage,
        [{"agent_id": agent_id, "language": c, "cefr": level} for c, level in after.items()],
    )
    _trail(session, key, principal, agent_id, "agent.languages", now, before, after)
    return _details(session, agent)


def replace_clearances(
    session: Session,
    principal: Principal,
    agent_id: uuid.UUID,
    client_ids: Sequence[int],
    *,
    now: datetime,
    key: bytes,
) -> AgentDetails:
    """The clients whose items the agent may work become exactly these. Besides the
    provider's record of the whole change, each client granted or losing the agent gets a
    record on its own chain: its auditors verify and export that chain alone, and who may
    touch the client's data is theirs to see."""
    agent = _changeable(session, agent_id)
    wanted = sorted(set(client_ids))
    known = set(session.scalars(select(Client.id).where(Client.id.in_(wanted))))
    errors = [
        {"field": f"client_ids.{index}", "message": f"unknown client {client_id}"}
        for index, client_id in enumerate(client_ids)
        if client_id not in known
    ]
    if errors:
        raise InvalidInput("the clearances name unknown clients", errors=errors)
    before = _clearances(session, agent_id)
    session.execute(delete(AgentClearance).where(AgentClearance.agent_id == agent_id))
    _insert(session, AgentClearance, [{"agent_id": agent_id, "client_id": c} for c in wanted])
    _trail(session, key, principal, agent_id, "agent.clearances", now, before, wanted)
    # The provider's chain head is locked first, then the clients' in order: two clearance
    # changes (of different agents) never hold each other's chain heads crosswise.
    for client_id in sorted(set(before) ^ set(wanted)):
        audit.record(
            session,
            key,
            client_id=client_id,
            actor=principal.actor,
            action="agent.clearance",
            subject=f"agent:{agent_id}",
            data={
                "before": {"cleared": client_id in before},
                "after": {"cleared": client_id in wanted},
            },
            now=now,
        )
    return _details(session, agent)


def replace_shifts(
    session: Session,
    principal: Principal,
    agent_id: uuid.UUID,
    shifts: Sequence[WeeklyShift],
    *,
    now: datetime,
    key: bytes,
) -> AgentDetails:
    """The agent's weekly shifts become exactly these, in the center's local time; a shift
    may run past midnight (it belongs to the day it starts on)."""
    agent = _changeable(session, agent_id)
    errors = []
    for index, shift in enumerate(shifts):
        for name, value, low, high in (
            ("weekday", shift.weekday, 0, 6),
            ("start_minute", shift.start_minute, 0, 1439),
            ("duration_minutes", shift.duration_minutes, 1, 1440),
        ):
            if not low <= value <= high:
                message = f"must be {low} to {high}"
                errors.append({"field": f"shifts.{index}.{name}", "message": message})
    if errors:
        raise InvalidInput("the shifts are invalid", errors=errors)
    before = _shifts(session, agent_id)
    after = sorted(set(shifts), key=astuple)
    session.execute(delete(Shift).where(Shift.agent_id == agent_id))
    _insert(session, Shift, [{"agent_id": agent_id, **asdict(shift)} for shift in after])
    _trail(
        session,
        key,
        principal,
        agent_id,
        "agent.shifts",
        now,
        [list(astuple(s)) for s in before],
        [list(astuple(s)) for s in after],
    )
    return _details(session, agent)


def deactivate_agent(
    session: Session, principal: Principal, agent_id: uuid.UUID, *, now: datetime, key: bytes
) -> AgentDetails:
    """The agent claims nothing more (their next claim is refused); kept for the record, with
    their skills and clearances. Their live leases are left to expire (work in hand is not
    cut off mid-keying) and the reaper returns those items to the queue. Deactivating an
    inactive agent changes nothing."""
    agent = _locked(session, agent_id)
    if agent.active:
        agent.active = False
        session.flush()
        _trail(
            session,
            key,
            principal,
            agent_id,
            "agent.deactivate",
            now,
            {"active": True},
            {"active": False},
        )
    return _details(session, agent)


def _locked(session: Session, agent_id: uuid.UUID) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.id == agent_id).with_for_update())
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def _changeable(session: Session, agent_id: uuid.UUID) -> Agent:
    agent = _locked(session, agent_id)
    if not agent.active:
        raise Conflict(f"agent {agent_id} is deactivated")
    return agent


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


def _skills(session: Session, agent_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        select(AgentSkill.skill_code, AgentSkill.level)
        .where(AgentSkill.agent_id == agent_id)
        .order_by(AgentSkill.skill_code)
    )
    return {code: level for code, level in rows}


def _languages(session: Session, agent_id: uuid.UUID) -> dict[str, str]:
    rows = session.execute(
        select(AgentLanguage.language, AgentLanguage.cefr)
        .where(AgentLanguage.agent_id == agent_id)
        .order_by(AgentLanguage.language)
    )
    return {language: cefr for language, cefr in rows}


def _clearances(session: Session, agent_id: uuid.UUID) -> list[int]:
    return list(
        session.scalars(
            select(AgentClearance.client_id)
            .where(AgentClearance.agent_id == agent_id)
            .order_by(AgentClearance.client_id)
        )
    )


def _shifts(session: Session, agent_id: uuid.UUID) -> list[WeeklyShift]:
    rows = session.execute(
        select(Shift.weekday, Shift.start_minute, Shift.duration_minutes)
        .where(Shift.agent_id == agent_id)
        .order_by(Shift.weekday, Shift.start_minute, Shift.duration_minutes)
    )
    return [WeeklyShift(*row) for row in rows]


def _details(session: Session, agent: Agent) -> AgentDetails:
    return AgentDetails(
        id=agent.id,
        name=agent.name,
        center_code=agent.center_code,
        tier=agent.tier,
        active=agent.active,
        user_id=agent.user_id,
        skills=_skills(session, agent.id),
        languages=_languages(session, agent.id),
        client_ids=_clearances(session, agent.id),
        shifts=_shifts(session, agent.id),
    )


def _trail(
    session: Session,
    key: bytes,
    principal: Principal,
    agent_id: uuid.UUID,
    action: str,
    now: datetime,
    before: object,
    after: object,
) -> None:
    audit.record(
        session,
        key,
        client_id=PROVIDER,
        actor=principal.actor,
        action=action,
        subject=f"agent:{agent_id}",
        data={"before": before, "after": after},
        now=now,
    )
