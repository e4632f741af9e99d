"""Work items as the provider's staff see them: one item with its client, process, SLA,
lease and history (who did what, by name), its payload masked as staff see it; and the
names the lists of items show."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit.models import AuditRecord
from tandem.catalog.models import Process
from tandem.catalog.service import queue_requirements
from tandem.privacy.service import payload_for, result_for
from tandem.tenancy.context import Context
from tandem.tenancy.models import ApiKey, Client, User
from tandem.work import queries
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.workforce.models import Agent, AgentClearance

# Changes to an item that move no state, so leave no event: they are read from the audit
# chain (a change of queue that took a lease back has its event already).
AUDITED_ONLY = ("work_item.priority", "work_item.reroute")
AGENTS_SHOWN = 500
SYSTEM_NAMES = {
    "system:reaper": "System (lease expired)",
    "system:gold": "System (gold items)",
    "system:worker": "System",
    "system:retention": "System (retention)",
}


@dataclass(frozen=True)
class Step:
    """One line of an item's history: a state change (from_state, to_state) or a change
    without one (`change` says what), who made it and what they said."""

    at: datetime
    actor: str  # a name, where one is known
    from_state: str | None = None
    to_state: str | None = None
    change: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lease:
    holder: str  # the agent's name
    agent_id: uuid.UUID
    expires_at: datetime
    live: bool


@dataclass(frozen=True)
class StaffItem:
    item: WorkItem
    client: str
    client_timezone: str
    process: str
    lease: Lease | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    history: list[Step]
    queues: list[str]  # the client's queues (routing keys), the item's own included
    agents: list[tuple[uuid.UUID, str]]  # active agents cleared for the client, by name

    @property
    def open(self) -> bool:
        return self.item.state not in (State.DELIVERED.value, State.CANCELLED.value)


def staff_item(ctx: Context, item_id: uuid.UUID, *, with_choices: bool = False) -> StaffItem:
    """The item as provider staff see it; NotFound as for any item the reader may not see.
    `with_choices`: also the queues and agents it may be reassigned to."""
    session = ctx.session
    item = get_visible(ctx, item_id)
    client = session.execute(
        select(Client.name, Client.timezone).where(Client.id == item.client_id)
    ).one()
    process = session.scalar(
        select(Process.name).where(
            Process.client_id == item.client_id, Process.id == item.process_id
        )
    )
    events = queries.history(session, item)
    audited = session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.client_id == item.client_id,
            AuditRecord.subject == f"work_item:{item.id}",
            AuditRecord.action.in_(AUDITED_ONLY),
        )
        .order_by(AuditRecord.seq)
    ).all()
    mentioned = [event.actor for event in events] + [record.actor for record in audited]
    for data in [event.data for event in events] + [record.data for record in audited]:
        for key in ("lease_owner", "assigned_to", "agent_id"):
            if data and data.get(key):
                mentioned.append(f"agent:{data[key]}")
    if item.lease_owner is not None:
        mentioned.append(f"agent:{item.lease_owner}")
    names = actor_names(session, mentioned)
    history = [
        Step(
            e.at, names.get(e.actor, e.actor), e.from_state, e.to_state, None, _notes(e.data, names)
        )
        for e in events
    ]
    history += [_audited_step(record, names) for record in audited if not _has_event(record)]
    history.sort(key=lambda step: step.at)
    lease = None
    if item.lease_owner is not None and item.lease_expires_at is not None:
        lease = Lease(
            names.get(f"agent:{item.lease_owner}", str(item.lease_owner)),
            item.lease_owner,
            item.lease_expires_at,
            item.state == State.LEASED.value and item.lease_expires_at > ctx.now,
        )
    return StaffItem(
        item=item,
        client=client.name,
        client_timezone=client.timezone,
        process=process or "",
        lease=lease,
        payload=payload_for(session, ctx.keyring, ctx.principal, item),
        result=result_for(session, ctx.keyring, ctx.principal, item),
        history=history,
        queues=_queues(session, item) if with_choices else [],
        agents=_agents(session, item.client_id) if with_choices else [],
    )


def _has_event(record: AuditRecord) -> bool:
    return record.action == "work_item.reroute" and bool((record.data or {}).get("lease_owner"))


def _audited_step(record: AuditRecord, names: dict[str, str]) -> Step:
    data = record.data or {}
    if record.action == "work_item.priority":
        change = f"priority {data.get('before')} → {data.get('priority')}"
    else:
        change = f"queue {data.get('before')} → {data.get('routing_key')}"
    notes = (f"reason: {data['reason']}",) if data.get("reason") else ()
    return Step(record.at, names.get(record.actor, record.actor), change=change, notes=notes)


def _notes(data: dict[str, Any] | None, names: dict[str, str]) -> tuple[str, ...]:
    """An event's data in words: its reason first, agents by name."""
    if not data:
        return ()
    notes = []
    if data.get("reason"):
        notes.append(f"reason: {str(data['reason']).replace('_', ' ')}")
    labels = {"lease_owner": "lease of", "assigned_to": "assigned to", "routing_key": "to queue"}
    for key, value in data.items():
        if key == "reason" or value is None:
            continue
        if key in ("lease_owner", "assigned_to"):
            value = names.get(f"agent:{value}", value)
        notes.append(f"{labels.get(key, key.replace('_', ' '))}: {value}")
    return tuple(notes)


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Names for the actors of events and audit records ("agent:<id>", "user:<id>",
    "api_key:<id>", "system:..."), where they are known."""
    ids: dict[str, set[uuid.UUID]] = {"agent": set(), "user": set(), "api_key": set()}
    names: dict[str, str] = {}
    for actor in set(actors):
        kind, _, rest = actor.partition(":")
        if kind == "system":
            names[actor] = SYSTEM_NAMES.get(actor, f"System ({rest})")
        elif kind == "rules":
            names[actor] = "The client's rules"
        elif kind in ids:
            try:
                ids[kind].add(uuid.UUID(rest))
            except ValueError:
                continue
    if ids["agent"]:
        for agent_id, name in session.execute(
            select(Agent.id, Agent.name).where(Agent.id.in_(ids["agent"]))
        ):
            names[f"agent:{agent_id}"] = name
    if ids["user"]:
        for user_id, name, role in session.execute(
            select(User.id, User.name, User.role).where(User.id.in_(ids["user"]))
        ):
            names[f"user:{user_id}"] = f"{name} ({role.replace('_', ' ')})"
    if ids["api_key"]:
        for key_id, name in session.execute(
            select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(ids["api_key"]))
        ):
            names[f"api_key:{key_id}"] = f"API key {name}"
    return names


def _queues(session: Session, item: WorkItem) -> list[str]:
    keys = {q.routing_key for q in queue_requirements(session, frozenset({item.client_id}))}
    return sorted(keys | {item.routing_key})


def _agents(session: Session, client_id: int) -> list[tuple[uuid.UUID, str]]:
    rows = session.execute(
        select(Agent.id, Agent.name, Agent.center_code)
        .join(AgentClearance, AgentClearance.agent_id == Agent.id)
        .where(AgentClearance.client_id == client_id, Agent.active.is_(True))
        .order_by(Agent.name, Agent.id)
        .limit(AGENTS_SHOWN)
    )
    return [(agent_id, f"{name} ({center})") for agent_id, name, center in rows]


@dataclass(frozen=True)
class Names:
    """What lists of items show instead of ids: clients and processes by name."""

    clients: dict[int, str]
    processes: dict[uuid.UUID, str]
    process_clients: dict[uuid.UUID, int]


def names(session: Session) -> Names:
    clients = dict(session.execute(select(Client.id, Client.name).order_by(Client.name)).all())
    processes: dict[uuid.UUID, str] = {}
    owners: dict[uuid.UUID, int] = {}
    for client_id, process_id, name in session.execute(
        select(Process.client_id, Process.id, Process.name).order_by(Process.name)
    ):
        processes[process_id] = name
        owners[process_id] = client_id
    return Names(clients, processes, owners)
