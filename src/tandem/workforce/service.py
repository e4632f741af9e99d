"""The workforce: who an agent is and which queues they may serve; the roster of centers and
agents; adding agents and changing their skills, languages, clearances and shifts, each
change audited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, astuple, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER
from tandem.core.db import Base
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client, User
from tandem.tenancy.permissions import AGENT_ROLES, ROLES, Permission
from tandem.workforce.eligibility import (
    CEFR_LEVELS,
    AgentProfile,
    RosteredDays,
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
from tandem.workforce.schedule import rostered_days


def agent_profile(
    session: Session, agent_id: uuid.UUID, now: datetime | None = None
) -> AgentProfile:
    """Everything that decides which queues the agent may serve; with `now`, also the local
    dates around it a published roster decides, with the agent's rostered shifts on them."""
    row = session.execute(
        select(Agent.active, DeliveryCenter.timezone, User.role, Agent.center_code)
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
        rostered=(
            rostered_days(session, agent_id, row.center_code, row.timezone, now)
            if now is not None
            else RosteredDays()
        ),
    )


# -- reading the workforce -------------------------------------------------------------------


def list_centers(ctx: Context) -> Sequence[DeliveryCenter]:
    return ctx.session.scalars(select(DeliveryCenter).order_by(DeliveryCenter.code)).all()


def list_agents(ctx: Context, center: str | None = None) -> Sequence[Agent]:
    """Every agent (active or not), or one center's, by center and name."""
    query = select(Agent).order_by(Agent.center_code, Agent.name)
    if center:
        query = query.where(Agent.center_code == center)
    return ctx.session.scalars(query).all()


def list_skills(ctx: Context, *, by: Literal["code", "name"] = "code") -> Sequence[Skill]:
    order = Skill.code if by == "code" else Skill.name
    return ctx.session.scalars(select(Skill).order_by(order)).all()


@dataclass
class AgentRow:
    """An agent as the roster shows them."""

    agent: Agent
    email: str | None  # the agent's sign-in, if they have one
    skills: list[tuple[str, str, int]] = field(default_factory=list)  # code, name, level
    languages: list[tuple[str, str]] = field(default_factory=list)  # language, CEFR level
    clearances: list[int] = field(default_factory=list)  # client ids
    shifts: list[WeeklyShift] = field(default_factory=list)


def roster(ctx: Context) -> list[tuple[DeliveryCenter, list[AgentRow]]]:
    """Each delivery center with its agents, their skills with levels, their languages,
    clearances and shifts."""
    session = ctx.session
    rows = {
        agent.id: AgentRow(agent, email)
        for agent, email in session.execute(
            select(Agent, User.email)
            .outerjoin(User, User.id == Agent.user_id)
            .order_by(Agent.center_code, Agent.name, Agent.id)
        )
    }
    for agent_id, code, name, level in session.execute(
        select(AgentSkill.agent_id, AgentSkill.skill_code, Skill.name, AgentSkill.level)
        .join(Skill, Skill.code == AgentSkill.skill_code)
        .order_by(AgentSkill.skill_code)
    ):
        rows[agent_id].skills.append((code, name, level))
    for agent_id, language, cefr in session.execute(
        select(AgentLanguage.agent_id, AgentLanguage.language, AgentLanguage.cefr).order_by(
            AgentLanguage.language
        )
    ):
        rows[agent_id].languages.append((language, cefr))
    for agent_id, client_id in session.execute(
        select(AgentClearance.agent_id, AgentClearance.client_id).order_by(AgentClearance.client_id)
    ):
        rows[agent_id].clearances.append(client_id)
    for agent_id, weekday, start, minutes in session.execute(
        select(Shift.agent_id, Shift.weekday, Shift.start_minute, Shift.duration_minutes).order_by(
            Shift.weekday, Shift.start_minute, Shift.duration_minutes
        )
    ):
        rows[agent_id].shifts.append(WeeklyShift(weekday, start, minutes))
    centers = session.scalars(select(DeliveryCenter).order_by(DeliveryCenter.code)).all()
    return [
        (center, [row for row in rows.values() if row.agent.center_code == center.code])
        for center in centers
    ]


def free_sign_ins(ctx: Context) -> Sequence[User]:
    """Active provider users with an agent role and no agent profile: who may be linked to a
    new agent."""
    return ctx.session.scalars(
        select(User)
        .outerjoin(Agent, Agent.user_id == User.id)
        .where(
            User.client_id.is_(None),
            User.role.in_(sorted(AGENT_ROLES)),
            User.active.is_(True),
            Agent.id.is_(None),
        )
        .order_by(User.email)
    ).all()


# -- administering the workforce -------------------------------------------------------------
# Each use case changes one agent in the context's transaction, under a lock of the agent's row
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


def agent_details(ctx: Context, agent_id: uuid.UUID) -> AgentDetails:
    """Active or not; NotFound for an id that names no agent."""
    agent = ctx.session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return _details(ctx.session, agent)


def create_agent(
    ctx: Context, *, name: str, center_code: str, tier: str, user_id: uuid.UUID | None
) -> AgentDetails:
    """A new agent, with no skills, languages, clearances or shifts yet: they serve no queue
    until those are given. A sign-in (`user_id`) must be a provider user with an agent role
    (agent, analyst, team lead) who has no agent profile yet."""
    session = ctx.session
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
    _trail(ctx, agent.id, "agent.create", None, after)
    return _details(session, agent)


def _linked(agent_id: uuid.UUID | None) -> Conflict:
    whose = f" (agent {agent_id})" if agent_id is not None else ""
    message = f"the user already has an agent profile{whose}"
    return Conflict(message, errors=[{"field": "user_id", "message": message}])


def replace_skills(ctx: Context, agent_id: uuid.UUID, skills: Mapping[str, int]) -> AgentDetails:
    """The agent's skills become exactly these, each at a level from 1 to 5."""
    session = ctx.session
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
    _trail(ctx, agent_id, "agent.skills", before, dict(sorted(skills.items())))
    return _details(session, agent)


def replace_languages(
    ctx: Context, agent_id: uuid.UUID, languages: Mapping[str, str]
) -> AgentDetails:
    """The agent's languages become exactly these, each with its CEFR level (A1 to C2)."""
    session = ctx.session
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
    _trail(ctx, agent_id, "agent.languages", before, after)
    return _details(session, agent)


def replace_clearances(
    ctx: Context, agent_id: uuid.UUID, client_ids: Sequence[int]
) -> AgentDetails:
    """The clients whose items the agent may work become exactly these. Besides the
    provider's record of the whole change, each client granted or losing the agent gets a
    record on its own chain: its auditors verify and export that chain alone, and who may
    touch the client's data is theirs to see."""
    session = ctx.session
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
    _trail(ctx, agent_id, "agent.clearances", before, wanted)
    # The provider's chain head is locked first, then the clients' in order: two clearance
    # changes (of different agents) never hold each other's chain heads crosswise.
    for client_id in sorted(set(before) ^ set(wanted)):
        audit.record_in(
            ctx,
            client_id=client_id,
            action="agent.clearance",
            subject=f"agent:{agent_id}",
            data={
                "before": {"cleared": client_id in before},
                "after": {"cleared": client_id in wanted},
            },
        )
    return _details(session, agent)


def replace_shifts(
    ctx: Context, agent_id: uuid.UUID, shifts: Sequence[WeeklyShift]
) -> AgentDetails:
    """The agent's weekly shifts become exactly these, in the center's local time; a shift
    may run past midnight (it belongs to the day it starts on)."""
    session = ctx.session
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
        ctx,
        agent_id,
        "agent.shifts",
        [list(astuple(s)) for s in before],
        [list(astuple(s)) for s in after],
    )
    return _details(session, agent)


def deactivate_agent(ctx: Context, agent_id: uuid.UUID) -> AgentDetails:
    """The agent claims nothing more (their next claim is refused); kept for the record, with
    their skills and clearances. Their live leases are left to expire (work in hand is not
    cut off mid-keying) and the reaper returns those items to the queue. Deactivating an
    inactive agent changes nothing."""
    agent = _locked(ctx.session, agent_id)
    if agent.active:
        agent.active = False
        ctx.session.flush()
        _trail(ctx, agent_id, "agent.deactivate", {"active": True}, {"active": False})
    return _details(ctx.session, agent)


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


def _trail(ctx: Context, agent_id: uuid.UUID, action: str, before: object, after: object) -> None:
    audit.record_in(
        ctx,
        client_id=PROVIDER,
        action=action,
        subject=f"agent:{agent_id}",
        data={"before": before, "after": after},
    )
