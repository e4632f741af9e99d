"""What the console's quality pages show beside the measures of tandem.quality.report: the
names of what is measured (clients, processes and their fields, agents), each process's QA
policy as people read it, and the alerts acknowledged lately, with who acknowledged them.
Reads only; every query is scoped to the caller's client."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.errors import Forbidden
from tandem.quality.models import SCORECARD, QualityAlert
from tandem.quality.sampling import fraction_inspected, plan_for
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client, User
from tandem.tenancy.permissions import Permission
from tandem.workforce.models import Agent

# How many acknowledged alerts the alerts page lists at most.
ACKNOWLEDGED_SHOWN = 50


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


@dataclass(frozen=True)
class ProcessName:
    client_id: int
    name: str
    fields: Mapping[str, str]  # a field's code to its title (the form's, or in words)

    def field(self, code: str) -> str:
        return self.fields.get(code) or _words(code)


@dataclass(frozen=True)
class Names:
    """What the caller may see, by id: clients, processes, and the agents asked for."""

    clients: Mapping[int, str]
    processes: Mapping[uuid.UUID, ProcessName]
    agents: Mapping[uuid.UUID, str]

    def client(self, client_id: int) -> str:
        return self.clients.get(client_id) or f"Client {client_id}"

    def process(self, process_id: uuid.UUID, *, with_client: bool = False) -> str:
        found = self.processes.get(process_id)
        if found is None:
            return f"Process {str(process_id)[-8:]}"
        if with_client:
            return f"{self.client(found.client_id)} · {found.name}"
        return found.name

    def agent(self, agent_id: uuid.UUID) -> str:
        """An agent's name; with the end of their id when another agent has it too."""
        name = self.agents.get(agent_id)
        if name is None:
            return f"Agent {str(agent_id)[-8:]}"
        if sum(1 for other in self.agents.values() if other == name) > 1:
            return f"{name} ({str(agent_id)[-8:]})"
        return name

    def group(self, by: str, group: str, *, with_client: bool = False) -> str:
        """A group of tandem.quality.report.accuracy in words: the client's, process's or
        agent's name, or "process · field"."""
        try:
            if by == "client":
                return self.client(int(group))
            if by == "process":
                return self.process(uuid.UUID(group), with_client=with_client)
            if by == "agent":
                return self.agent(uuid.UUID(group))
            process_id, _, field = group.partition("/")
            process = self.processes.get(uuid.UUID(process_id))
            where = self.process(uuid.UUID(process_id), with_client=with_client)
            return f"{where} · {process.field(field) if process else _words(field)}"
        except ValueError:
            return group


def _field_titles(process: Process) -> dict[str, str]:
    if process.kind == "conversation":
        return {criterion: _words(criterion) for criterion in SCORECARD}
    properties = process.form_schema.get("properties") or {}
    return {
        str(code): str(spec.get("title") or _words(str(code)))
        for code, spec in properties.items()
        if isinstance(spec, Mapping)
    }


def names(ctx: Context) -> Names:
    """The caller's clients and processes (provider staff: every client's); no agents (see
    `agent_names`)."""
    session, principal = ctx.session, ctx.principal
    clients = dict(
        session.execute(
            select(Client.id, Client.name).where(principal.client_condition(Client.id))
        ).all()
    )
    processes = {
        process.id: ProcessName(process.client_id, process.name, _field_titles(process))
        for process in session.scalars(
            select(Process)
            .where(principal.client_condition(Process.client_id))
            .order_by(Process.name)
        )
    }
    return Names(clients, processes, {})


def agent_names(ctx: Context, agents: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of `agents`, for provider staff who may see agents' quality (nobody else
    learns any)."""
    wanted = set(agents)
    if not wanted or not _sees_agents(ctx):
        return {}
    found = ctx.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted)))
    return {agent_id: name for agent_id, name in found}


def _sees_agents(ctx: Context) -> bool:
    return (
        Permission.AGENT_QUALITY_READ in ctx.principal.permissions
        and ctx.principal.client_id is None
    )


@dataclass(frozen=True)
class PolicyView:
    """A process's QA policy, what its reviews check, and under sampling the CSP-1 plan a
    new agent starts with."""

    process_id: uuid.UUID
    client_id: int
    client: str
    process: str
    kind: str
    active: bool
    mode: str
    aoql: float
    min_accuracy: float
    gold_rate: float
    checks: tuple[str, ...]  # the fields (or scorecard criteria) reviews mark, in words
    clearance: int | None  # sampling: items in a row that clear a new agent's screening
    fraction: float | None  # sampling: the share of a cleared agent's items reviewed
    review_fraction_at_1_percent: float | None  # sampling: what is reviewed at 1 % errors


def _policy_view(process: Process, client: str) -> PolicyView:
    plan = plan_for(process.qa_aoql, process.qa_aoql) if process.qa_mode == "sampling" else None
    return PolicyView(
        process_id=process.id,
        client_id=process.client_id,
        client=client,
        process=process.name,
        kind=process.kind,
        active=process.active,
        mode=process.qa_mode,
        aoql=process.qa_aoql,
        min_accuracy=process.qa_min_accuracy,
        gold_rate=process.qa_gold_rate,
        checks=tuple(_field_titles(process).values()),
        clearance=None if plan is None else plan.clearance,
        fraction=None if plan is None else plan.fraction,
        review_fraction_at_1_percent=None
        if plan is None
        else fraction_inspected(0.01, plan.clearance, plan.fraction),
    )


def policies(ctx: Context) -> list[PolicyView]:
    """Every process's QA policy, by client and process name."""
    session, principal = ctx.session, ctx.principal
    clients: dict[int, str] = dict(
        session.execute(
            select(Client.id, Client.name).where(principal.client_condition(Client.id))
        ).all()
    )
    found = session.scalars(
        select(Process).where(principal.client_condition(Process.client_id))
    ).all()
    views = [_policy_view(p, clients.get(p.client_id, str(p.client_id))) for p in found]
    return sorted(views, key=lambda v: (v.client.lower(), v.process.lower(), str(v.process_id)))


def policy(ctx: Context, process_id: uuid.UUID) -> PolicyView:
    """One process's QA policy; NotFound for a process the caller may not see."""
    process = get_process(ctx, process_id)
    client = ctx.session.scalar(select(Client.name).where(Client.id == process.client_id))
    return _policy_view(process, client or str(process.client_id))


@dataclass(frozen=True)
class Acknowledged:
    alert: QualityAlert
    by: str  # who acknowledged it, by name


def acknowledged_alerts(ctx: Context, since: datetime) -> list[Acknowledged]:
    """Alerts acknowledged since `since`, latest first (at most ACKNOWLEDGED_SHOWN), with the
    name of who acknowledged each; for those who may see agents' quality."""
    if not _sees_agents(ctx):
        raise Forbidden(f"alerts need {Permission.AGENT_QUALITY_READ.value}")
    alerts = ctx.session.scalars(
        select(QualityAlert)
        .where(
            ctx.principal.client_condition(QualityAlert.client_id),
            QualityAlert.acknowledged_at >= since,
        )
        .order_by(QualityAlert.acknowledged_at.desc())
        .limit(ACKNOWLEDGED_SHOWN)
    ).all()
    who = actor_names(ctx.session, [alert.acknowledged_by for alert in alerts])
    return [
        Acknowledged(
            alert, who.get(alert.acknowledged_by or "") or _words(str(alert.acknowledged_by or ""))
        )
        for alert in alerts
    ]


def actor_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """The names of the users and agents among `actors` ("user:<id>", "agent:<id>"), by
    actor; those not found (the system, a removed user) are left out."""
    parsed = {actor: _actor(actor) for actor in actors if actor}
    users = {ident for kind, ident in parsed.values() if kind == "user" and ident is not None}
    agents = {ident for kind, ident in parsed.values() if kind == "agent" and ident is not None}
    who: dict[tuple[str, Any], str] = {}
    if users:
        for ident, name in session.execute(select(User.id, User.name).where(User.id.in_(users))):
            who[("user", ident)] = name
    if agents:
        for ident, name in session.execute(
            select(Agent.id, Agent.name).where(Agent.id.in_(agents))
        ):
            who[("agent", ident)] = name
    return {actor: who[key] for actor, key in parsed.items() if key in who}


def _actor(actor: str | None) -> tuple[str, uuid.UUID | None]:
    """An actor of an event row ("user:<id>", "agent:<id>", "system") as (kind, id)."""
    kind, _, ident = (actor or "").partition(":")
    try:
        return kind, uuid.UUID(ident)
    except ValueError:
        return kind, None
