"""The operations floor: open work per process and routing key, what is at risk or breached,
who is on shift in each delivery center, and how much was delivered hour by hour."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core.db import is_postgres
from tandem.servicedesk.models import Brand, Conversation
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.workforce.models import Agent, DeliveryCenter
from tandem.workforce.schedule import scheduled

FINAL = (State.DELIVERED.value, State.CANCELLED.value)
HOURS = 24
AT_RISK_SHOWN = 20
RESOLVING_AHEAD = timedelta(hours=1)


@dataclass(frozen=True)
class Queue:
    client: str
    process: str
    routing_key: str
    states: dict[str, int]
    at_risk: int
    breached: int

    @property
    def open(self) -> int:
        return sum(self.states.values())


@dataclass(frozen=True)
class Urgent:
    id: uuid.UUID
    external_ref: str | None  # the client's reference, where it gave one
    client: str
    process: str
    state: str
    due_at: datetime
    breached: bool


@dataclass(frozen=True)
class Resolving:
    """A conversation whose brand's resolution target is near or past (tandem.servicedesk.sla)."""

    id: uuid.UUID
    client: str
    brand: str
    subject: str  # masked, as staff see it
    state: str
    due_at: datetime
    breached: bool


@dataclass(frozen=True)
class Center:
    code: str
    name: str
    agents: int
    on_shift: int
    working: int  # holding a lease now


@dataclass(frozen=True)
class Floor:
    queues: list[Queue]
    urgent: list[Urgent]
    centers: list[Center]
    hours: list[datetime]  # the start of each of the last HOURS hours
    delivered_per_hour: list[int]
    resolving: list[Resolving]  # conversations due to be solved within RESOLVING_AHEAD, or late


def floor(ctx: Context) -> Floor:
    """The floor now, across every client."""
    session, now = ctx.session, ctx.now
    clients = dict(session.execute(select(Client.id, Client.code)).all())
    processes = {
        (row.client_id, row.id): row.name
        for row in session.execute(select(Process.client_id, Process.id, Process.name))
    }
    open_work = WorkItem.state.not_in(FINAL) & ~WorkItem.gold
    counts: dict[tuple[int, uuid.UUID, str], dict[str, int]] = defaultdict(dict)
    risk: dict[tuple[int, uuid.UUID, str], tuple[int, int]] = {}
    for client_id, process_id, key, state, items, at_risk, breached in session.execute(
        select(
            WorkItem.client_id,
            WorkItem.process_id,
            WorkItem.routing_key,
            WorkItem.state,
            func.count(),
            func.count().filter(WorkItem.at_risk),
            func.count().filter(WorkItem.breached),
        )
        .where(open_work)
        .group_by(WorkItem.client_id, WorkItem.process_id, WorkItem.routing_key, WorkItem.state)
    ):
        group = (client_id, process_id, key)
        counts[group][state] = items
        before = risk.get(group, (0, 0))
        risk[group] = (before[0] + at_risk, before[1] + breached)
    queues = sorted(
        (
            Queue(
                clients.get(client_id, str(client_id)),
                processes.get((client_id, process_id), str(process_id)),
                key,
                states,
                *risk[(client_id, process_id, key)],
            )
            for (client_id, process_id, key), states in counts.items()
        ),
        key=lambda queue: (-queue.breached, -queue.at_risk, queue.client, queue.process),
    )
    urgent = [
        Urgent(
            row.id,
            row.external_ref,
            clients.get(row.client_id, ""),
            processes.get((row.client_id, row.process_id), ""),
            row.state,
            row.due_at,
            row.breached,
        )
        for row in session.execute(
            select(
                WorkItem.id,
                WorkItem.external_ref,
                WorkItem.client_id,
                WorkItem.process_id,
                WorkItem.state,
                WorkItem.due_at,
                WorkItem.breached,
            )
            .where(open_work, WorkItem.at_risk | WorkItem.breached)  # ix_work_items_urgent
            .order_by(WorkItem.due_at)
            .limit(AT_RISK_SHOWN)
        )
    ]
    hours, delivered = _throughput(session, list(clients), now)
    resolving = _resolving(session, clients, now)
    return Floor(queues, urgent, _centers(session, now), hours, delivered, resolving)


def _resolving(session: Session, clients: dict[int, str], now: datetime) -> list[Resolving]:
    """Conversations whose resolution is due within RESOLVING_AHEAD or past due, not solved
    and not waiting on the customer (their clock is paused), the most late first."""
    rows = session.execute(
        select(
            Conversation.id,
            Conversation.client_id,
            Conversation.subject,
            Conversation.state,
            Conversation.resolution_due_at,
            Brand.name,
        )
        .join(
            Brand, (Brand.client_id == Conversation.client_id) & (Brand.id == Conversation.brand_id)
        )
        .where(
            Conversation.resolution_due_at.is_not(None),
            Conversation.resolved_at.is_(None),
            Conversation.resolution_due_at <= now + RESOLVING_AHEAD,
        )
        .order_by(Conversation.resolution_due_at)
        .limit(AT_RISK_SHOWN)
    )
    return [
        Resolving(
            row.id,
            clients.get(row.client_id, ""),
            row.name,
            row.subject,
            row.state,
            row.resolution_due_at,
            row.resolution_due_at < now,
        )
        for row in rows
    ]


def _centers(session: Session, now: datetime) -> list[Center]:
    """Per center: its active agents, those on shift now (weekly shifts, or the published
    roster where one decides the day: tandem.workforce.schedule) and those holding a lease."""
    on_shift = {
        agent_id
        for agent_id, spans in scheduled(session, None, now, now + timedelta(seconds=1)).items()
        if spans
    }
    working = set(
        session.scalars(
            select(WorkItem.lease_owner)
            .where(WorkItem.state == State.LEASED.value, WorkItem.lease_expires_at > now)
            .distinct()
        )
    )
    centers = {row.code: row for row in session.scalars(select(DeliveryCenter))}
    tally: dict[str, list[int]] = {code: [0, 0, 0] for code in centers}
    for agent_id, code in session.execute(
        select(Agent.id, Agent.center_code).where(Agent.active.is_(True))
    ):
        counts = tally[code]
        counts[0] += 1
        counts[1] += agent_id in on_shift
        counts[2] += agent_id in working
    return [Center(code, centers[code].name, *tally[code]) for code in sorted(centers)]


def _throughput(
    session: Session, client_ids: list[int], now: datetime
) -> tuple[list[datetime], list[int]]:
    """Items delivered in each of the last HOURS hours (per client, so that each count
    reads the events' (client, time) index)."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hours = [end - timedelta(hours=HOURS - i) for i in range(HOURS)]
    per_hour = [0] * HOURS
    if is_postgres(session):
        hour = func.date_trunc("hour", func.timezone("UTC", WorkItemEvent.at))  # UTC hours
    else:  # SQLite keeps UTC as text: its first 13 characters name the hour
        hour = func.substr(WorkItemEvent.at, 1, 13)
    for client_id in client_ids:
        for started, count in session.execute(
            select(hour, func.count())
            .where(
                WorkItemEvent.client_id == client_id,
                WorkItemEvent.at >= hours[0],
                WorkItemEvent.to_state == State.DELIVERED.value,
            )
            .group_by(hour)
        ):
            index = _index(started, hours[0])
            if 0 <= index < HOURS:
                per_hour[index] += count
    return hours, per_hour


def _index(started: datetime | str, first: datetime) -> int:
    if isinstance(started, str):  # "YYYY-MM-DD HH" from SQLite
        started = datetime.fromisoformat(started + ":00")
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return int((started - first).total_seconds() // 3600)
