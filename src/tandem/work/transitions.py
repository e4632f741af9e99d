"""The one owner of work item changes: every state an item takes is written here.

Each transition checks the lifecycle table (tandem.work.lifecycle), writes its event rows and,
when an item is delivered, runs what follows a delivery exactly once (`_delivered`: the
client's webhook event in the outbox, the delivered-items metric), for single items and for
bulk paths alike. Other modules decide (dispatch who gets what, quality what follows a
submit, the rules what they decide) and call these functions; none writes
`work_items.state` itself (a test reads every module for it).

Each function runs inside the caller's transaction (one unit of work = one transaction), so a
state change and its event row commit together or not at all. The hot paths (claim, heartbeat,
submit) keep their single fenced statements (tandem.work.statements).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Row, TextualSelect, insert, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.catalog.service import policy_for
from tandem.core import metrics
from tandem.core.db import new_id
from tandem.core.errors import Conflict
from tandem.delivery import outbox
from tandem.sla.policy import SlaPolicy
from tandem.tenancy.context import Context
from tandem.vault.sealing import Storing
from tandem.work.access import get_visible
from tandem.work.chunks import ITEM_COLUMNS, JsonInsert, item_rows
from tandem.work.lifecycle import SLA_RUNNING, IllegalTransition, State, check_transition
from tandem.work.models import WorkItem
from tandem.work.statements import (
    EVENT_COLUMNS,
    HEARTBEAT,
    INSERT_EVENTS,
    INSERT_SUBMIT_EVENTS,
    SUBMIT,
    SUBMITTED,
    candidates_per_key,
    claim_postgres,
    claim_sqlite,
    events,
    items,
)

# What the hot path's statements do, checked against the lifecycle once.
check_transition(State.QUEUED, State.LEASED)
check_transition(State.LEASED, SUBMITTED[0])
check_transition(SUBMITTED[0], SUBMITTED[1])


@dataclass(frozen=True)
class ItemRef:
    """What `move` needs to know of an item: where it is and what it was when read."""

    client_id: int
    id: uuid.UUID
    state: State
    version: int
    attempt: int

    @classmethod
    def of(cls, row: Row[Any] | WorkItem) -> ItemRef:
        return cls(row.client_id, row.id, State(row.state), row.version, row.attempt)


class StaleItem(Conflict):
    """Someone else changed the item between our read and our write."""


def move(
    session: Session | Connection,
    item: ItemRef,
    to: State | Sequence[State],
    *,
    actor: str,
    now: datetime,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    """Move an item to `to` (or through several states in one go), applying `changes`, and
    write one event per step.

    Refuses steps not in the lifecycle table (IllegalTransition) and writes that raced with
    another change (StaleItem): the update only matches the state and version we read. An
    item is delivered by `deliver`, which also runs what follows a delivery.
    """
    path = [to] if isinstance(to, State) else list(to)
    if path[-1] is State.DELIVERED:
        raise ValueError("deliver an item with tandem.work.transitions.deliver")
    return _move(session, item, path, actor=actor, now=now, data=data, changes=changes)


def _move(
    session: Session | Connection,
    item: ItemRef,
    path: Sequence[State],
    *,
    actor: str,
    now: datetime,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    previous: State = item.state
    for step in path:
        check_transition(previous, step)
        previous = step
    version = item.version + len(path)
    result = session.execute(
        update(items)
        .where(
            items.c.client_id == item.client_id,
            items.c.id == item.id,
            items.c.version == item.version,
            items.c.state == item.state.value,
        )
        .values(state=path[-1].value, version=version, updated_at=now, **(changes or {}))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleItem(f"work item {item.id} changed meanwhile; read it again")
    attempt = int((changes or {}).get("attempt", item.attempt))
    session.execute(
        insert(events),
        step_events(item, path, actor=actor, now=now, attempt=attempt, data=data),
    )
    return ItemRef(item.client_id, item.id, path[-1], version, attempt)


def step_events(
    item: ItemRef,
    path: Sequence[State],
    *,
    actor: str,
    now: datetime,
    attempt: int,
    data: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The event rows of moving `item` (as it was before) along `path`: one per step, numbered
    on from the item's version. For writers that move items with statements of their own."""
    return [
        {
            "client_id": item.client_id,
            "work_item_id": item.id,
            "seq": item.version + 1 + i,
            "at": now,
            "from_state": (path[i - 1] if i else item.state).value,
            "to_state": step.value,
            "actor": actor,
            "attempt": attempt,
            "data": dict(data) if data else None,
        }
        for i, step in enumerate(path)
    ]


def creation_event(
    item: Mapping[str, Any], *, actor: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The event row of a new item (sequence 1), for bulk inserts beside the item rows."""
    check_transition(None, State(item["state"]))
    return {
        "client_id": item["client_id"],
        "work_item_id": item["id"],
        "seq": 1,
        "at": item["received_at"],
        "from_state": None,
        "to_state": item["state"],
        "actor": actor,
        "attempt": 0,
        "data": dict(data) if data else None,
    }


# -- what people do to an item: each change on the client's audit chain too ---------------


def audited(ctx: Context, item: WorkItem, action: str, **data: Any) -> None:
    """A person's (or a client system's) change to an item, recorded on the client's audit
    chain in the changing transaction: `work_item.<action>`, with what is not None of `data`
    (ids as text)."""
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action=f"work_item.{action}",
        subject=f"work_item:{item.id}",
        data={
            name: str(value) if isinstance(value, uuid.UUID) else value
            for name, value in data.items()
            if value is not None
        },
    )


def hold(ctx: Context, item_id: uuid.UUID, reason: str, *, at_risk_fraction: float) -> WorkItem:
    """Waiting on someone outside the provider: the SLA clock stops with its time left."""
    item = get_visible(ctx, item_id)
    policy = policy_for(ctx.session, item.client_id, item.process_id, at_risk_fraction)
    holder = item.lease_owner if item.state == State.LEASED.value else None
    move(
        ctx.session,
        ItemRef.of(item),
        State.WAITING,
        actor=ctx.principal.actor,
        now=ctx.now,
        data={"reason": reason},
        changes={
            "sla_paused_remaining_s": policy.pause(ctx.now, item.due_at),
            "lease_owner": None,
            "lease_expires_at": None,
        },
    )
    ctx.session.refresh(item)
    audited(ctx, item, "hold", reason=reason, lease_owner=holder)
    return item


def resume(ctx: Context, item_id: uuid.UUID, *, at_risk_fraction: float) -> WorkItem:
    """waiting -> queued: the SLA clock restarts with the time it had left."""
    item = get_visible(ctx, item_id)
    if item.state != State.WAITING.value:
        raise IllegalTransition(State(item.state), State.QUEUED)
    policy = policy_for(ctx.session, item.client_id, item.process_id, at_risk_fraction)
    due_at, at_risk_at = policy.resume(ctx.now, item.sla_paused_remaining_s or 0.0)
    move(
        ctx.session,
        ItemRef.of(item),
        State.QUEUED,
        actor=ctx.principal.actor,
        now=ctx.now,
        changes={"due_at": due_at, "at_risk_at": at_risk_at, "sla_paused_remaining_s": None},
    )
    ctx.session.refresh(item)
    audited(ctx, item, "resume", due_at=due_at.isoformat())
    return item


def cancel(ctx: Context, item_id: uuid.UUID, reason: str) -> WorkItem:
    item = get_visible(ctx, item_id)
    before = item.state
    move(
        ctx.session,
        ItemRef.of(item),
        State.CANCELLED,
        actor=ctx.principal.actor,
        now=ctx.now,
        data={"reason": reason},
        changes={"lease_owner": None, "lease_expires_at": None},
    )
    ctx.session.refresh(item)
    audited(ctx, item, "cancel", reason=reason, state=before)
    return item


DONE = frozenset({State.DELIVERED, State.CANCELLED})


def _not_done(item: WorkItem, what: str) -> State:
    state = State(item.state)
    if state in DONE:
        raise Conflict(f"work item {item.id} is {state.value}: {what}", state=state.value)
    return state


def _changed(ctx: Context, item: WorkItem, **values: Any) -> None:
    """Columns of an item other than its state, changed only if its state (and version) are
    still those read: a move meanwhile refuses the change (StaleItem)."""
    result = ctx.session.execute(
        update(items)
        .where(
            items.c.client_id == item.client_id,
            items.c.id == item.id,
            items.c.version == item.version,
            items.c.state == item.state,
        )
        .values(updated_at=ctx.now, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleItem(f"work item {item.id} changed meanwhile; read it again")
    ctx.session.refresh(item)


def reprioritize(ctx: Context, item_id: uuid.UUID, priority: int) -> WorkItem:
    """Set an open item's priority (agents get the earliest due item first, then the highest
    priority among those due together). No state changes, so no event: the change is on the
    client's audit chain, with the priority before."""
    item = get_visible(ctx, item_id)
    _not_done(item, "its priority no longer counts")
    before = item.priority
    _changed(ctx, item, priority=priority)
    audited(ctx, item, "priority", priority=priority, before=before)
    return item


def take_back(ctx: Context, item_id: uuid.UUID, reason: str | None) -> WorkItem:
    """leased -> queued, by operations: the item goes back to its queue and its holder loses
    the lease, fenced as the reaper's return (the move matches the state and version read;
    the holder's heartbeat and submit name an attempt no longer leased: 409 lease lost)."""
    item = get_visible(ctx, item_id)
    if item.state != State.LEASED.value:
        raise Conflict(
            f"work item {item.id} is {item.state}, not leased: there is no lease to take back",
            state=item.state,
        )
    holder = item.lease_owner
    move(
        ctx.session,
        ItemRef.of(item),
        State.QUEUED,
        actor=ctx.principal.actor,
        now=ctx.now,
        data={"reason": reason or "taken back by operations", "lease_owner": str(holder)},
        changes={"lease_owner": None, "lease_expires_at": None},
    )
    ctx.session.refresh(item)
    audited(ctx, item, "release", reason=reason, lease_owner=holder)
    return item


# The states an item may be leased to a named agent from, and the way there.
ASSIGNABLE: dict[State, tuple[State, ...]] = {
    State.QUEUED: (State.LEASED,),
    State.LEASED: (State.QUEUED, State.LEASED),  # its holder loses it
    State.REWORK: (State.LEASED,),
}


def assign(
    ctx: Context, item: WorkItem, agent_id: uuid.UUID, *, expires: datetime, reason: str | None
) -> WorkItem:
    """Lease the item (read in this transaction) to a named agent under a new attempt, until
    `expires`: queued, sent back, or leased to someone else (back to the queue and on to the
    agent in one go: the holder loses the lease). The agent finds it among the items they
    hold; their page keeps the lease alive, and a lease nobody keeps expires and the item
    returns to the queue, as any lease does. Whether the agent may work it is dispatch's
    decision (tandem.dispatch.service.Dispatcher.assign)."""
    state = _not_done(item, "it cannot be assigned")
    path = ASSIGNABLE.get(state)
    if path is None:
        why = "resume it first" if state is State.WAITING else "it is not waiting for an agent"
        raise Conflict(f"work item {item.id} is {state.value}: {why}", state=state.value)
    if state is State.LEASED and item.lease_owner == agent_id:
        raise Conflict(f"work item {item.id} is leased to this agent already", state=state.value)
    holder = item.lease_owner if state is State.LEASED else None
    data: dict[str, Any] = {"reason": reason or "assigned by operations"}
    data["assigned_to"] = str(agent_id)
    if holder is not None:
        data["lease_owner"] = str(holder)
    move(
        ctx.session,
        ItemRef.of(item),
        path,
        actor=ctx.principal.actor,
        now=ctx.now,
        data=data,
        changes={"attempt": item.attempt + 1, "lease_owner": agent_id, "lease_expires_at": expires},
    )
    ctx.session.refresh(item)
    audited(ctx, item, "assign", agent_id=agent_id, reason=reason, lease_owner=holder)
    return item


# The states an item may change queues in: queued and waiting stay so; a leased one goes
# back to its (new) queue, and its holder loses the lease.
REROUTABLE = frozenset({State.QUEUED, State.WAITING, State.LEASED})


def reroute(ctx: Context, item: WorkItem, routing_key: str, *, reason: str | None) -> WorkItem:
    """Move the item (read in this transaction) to another queue of its client. Whether the
    queue is one is dispatch's decision (tandem.dispatch.service.reroute)."""
    state = _not_done(item, "it is in no queue")
    if state not in REROUTABLE:
        raise Conflict(
            f"work item {item.id} is {state.value}: only a queued, waiting or leased item "
            "changes queues",
            state=state.value,
        )
    before, holder = item.routing_key, item.lease_owner if state is State.LEASED else None
    if state is State.LEASED:
        move(
            ctx.session,
            ItemRef.of(item),
            State.QUEUED,
            actor=ctx.principal.actor,
            now=ctx.now,
            data={
                "reason": reason or "moved to another queue by operations",
                "lease_owner": str(holder),
                "routing_key": routing_key,
            },
            changes={"lease_owner": None, "lease_expires_at": None, "routing_key": routing_key},
        )
        ctx.session.refresh(item)
    else:
        _changed(ctx, item, routing_key=routing_key)
    audited(
        ctx,
        item,
        "reroute",
        routing_key=routing_key,
        before=before,
        reason=reason,
        lease_owner=holder,
    )
    return item


_RUNNING = [state.value for state in SLA_RUNNING]


def escalate(session: Session, now: datetime, priority_boost: int) -> tuple[int, int]:
    """Mark open items at risk (and raise their priority) and breached. Returns both counts."""
    at_risk = session.execute(
        update(WorkItem)
        .where(
            WorkItem.at_risk_at <= now,
            ~WorkItem.at_risk,
            ~WorkItem.breached,  # the index's rows; the breach mark below comes after this one
            WorkItem.state.in_(_RUNNING),
        )
        .values(at_risk=True, priority=WorkItem.priority + priority_boost)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    breached = session.execute(
        update(WorkItem)
        .where(
            WorkItem.at_risk_at <= now,  # implied (at_risk_at <= due_at): the index's range
            WorkItem.due_at <= now,
            ~WorkItem.breached,
            WorkItem.state.in_(_RUNNING),
        )
        .values(breached=True)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    metrics.SLA_BREACHES.inc(breached)
    return int(at_risk), int(breached)


def new_item_row(
    process: Process,
    policy: SlaPolicy,
    payload: dict[str, Any],
    now: datetime,
    *,
    due: tuple[datetime, datetime] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    due_at, at_risk_at = due or policy.start(now)
    return {
        "client_id": process.client_id,
        "id": new_id(),
        "process_id": process.id,
        "state": State.QUEUED.value,
        "version": 1,
        "priority": process.priority,
        "routing_key": process.routing_key,
        "received_at": now,
        "due_at": due_at,
        "at_risk_at": at_risk_at,
        "at_risk": False,
        "breached": False,
        "attempt": 0,
        "payload": payload,
        "updated_at": now,
        **extra,
    }


# -- delivery --------------------------------------------------------------------------


class DeliveredItem(Protocol):
    """What a delivery's webhook event names of an item: a WorkItem, a row, or
    tandem.delivery.outbox.Delivered for an item not read as a row."""

    @property
    def client_id(self) -> int: ...
    @property
    def id(self) -> Any: ...
    @property
    def process_id(self) -> Any: ...
    @property
    def batch_id(self) -> Any: ...
    @property
    def external_ref(self) -> str | None: ...


def deliver(
    db: Session | Connection,
    ref: ItemRef,
    item: DeliveredItem,
    kept: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    via: Sequence[State] = (),
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    """Deliver the item (through the states `via` first) with its result as kept (`result`,
    `result_sealed`: tandem.privacy.service.stored_result), and run what follows a delivery."""
    ref = _move(
        db,
        ref,
        [*via, State.DELIVERED],
        actor=actor,
        now=now,
        changes={**(changes or {}), "delivered_at": now, "recheck": False, **kept},
    )
    _delivered(db, item, kept, now)
    return ref


def _delivered(
    db: Session | Connection,
    item: DeliveredItem,
    kept: Mapping[str, Any],
    now: datetime,
    *,
    notify: bool = True,
) -> None:
    """What follows every delivery, once: the client's webhooks told (an outbox row per
    subscription, in the delivering transaction) and the delivered-items metric. `notify`
    False: the delivering statement found the client has no subscriptions."""
    if notify:
        connection = db.connection() if isinstance(db, Session) else db
        outbox.item_delivered(connection, item, kept, now)
    metrics.ITEMS_DELIVERED.inc()


# -- the lease protocol's hot path ---------------------------------------------------------


def claim(
    connection: Connection,
    agent_id: uuid.UUID,
    queues: Sequence[tuple[int, str]],
    queues_json: str,
    *,
    now: datetime,
    expires: datetime,
) -> Row[Any] | None:
    """queued -> leased: the agent's next item of `queues` (earliest due, then highest
    priority, then oldest), with its event; one statement on PostgreSQL."""
    params: dict[str, Any] = {"agent_id": agent_id, "lease_expires_at": expires, "now": now}
    actor = f"agent:{agent_id}"
    statement: TextualSelect
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        statement = claim_postgres(candidates_per_key(len(queues)))
        params["queues"] = queues_json
        params["actor"] = actor
    else:
        statement = claim_sqlite(len(queues))
        for i, (client, key) in enumerate(queues):
            params[f"c{i}"], params[f"k{i}"] = client, key
    row = connection.execute(statement, params).one_or_none()
    if row is not None and not postgres:  # PostgreSQL's claim statement wrote the event
        leased = ItemRef(row.client_id, row.id, State.QUEUED, row.version - 1, row.attempt)
        connection.execute(
            INSERT_EVENTS,
            step_events(leased, (State.LEASED,), actor=actor, now=now, attempt=row.attempt),
        )
    return row


def heartbeat(
    connection: Connection,
    agent_id: uuid.UUID,
    item_id: uuid.UUID,
    attempt: int,
    *,
    now: datetime,
    expires: datetime,
) -> bool:
    """Extend the agent's live lease of this attempt to `expires`; False if there is none."""
    fences = {"item_id": item_id, "held_attempt": attempt, "agent_id": agent_id, "now": now}
    return bool(connection.execute(HEARTBEAT, {**fences, "expires": expires}).rowcount == 1)


def submit(
    connection: Connection,
    agent_id: uuid.UUID,
    client_id: int,
    item_id: uuid.UUID,
    attempt: int,
    kept: Mapping[str, Any],
    *,
    now: datetime,
    check: Callable[[Row[Any]], None],
) -> Row[Any] | None:
    """leased -> submitted, where quality control decides what follows (the process has a
    QA mode, the item is a gold item or a redone one), else -> delivered at once: one fenced
    update that tells what the item was, then its events (and what follows a delivery).
    None when the fences match nothing (no live lease of this attempt). `check` sees the
    item before anything more is written and may refuse it by raising (the caller's
    transaction then rolls the update back)."""
    fences = {"item_id": item_id, "held_attempt": attempt, "agent_id": agent_id, "now": now}
    stored = {"result_value": kept["result"], "result_sealed": kept["result_sealed"]}
    item = connection.execute(
        SUBMIT, {**fences, "item_client_id": client_id, **stored}
    ).one_or_none()
    if item is None:
        return None
    check(item)
    actor = f"agent:{agent_id}"
    path = SUBMITTED[:1] if item.state == State.SUBMITTED.value else SUBMITTED
    before = ItemRef(item.client_id, item.id, State.LEASED, item.version - len(path), attempt)
    rows = step_events(before, path, actor=actor, now=now, attempt=attempt)
    if len(path) == 1:
        connection.execute(INSERT_EVENTS, rows)
        return item
    connection.execute(
        INSERT_SUBMIT_EVENTS,
        {f"{c.name}_{i}": row[c.name] for i, row in enumerate(rows) for c in EVENT_COLUMNS},
    )
    _delivered(connection, item, kept, now, notify=item.notify)
    return item


def release(
    session: Session, item: ItemRef, agent_id: uuid.UUID, *, reason: str | None, now: datetime
) -> ItemRef:
    """leased -> queued: the agent hands the item back."""
    return move(
        session,
        item,
        State.QUEUED,
        actor=f"agent:{agent_id}",
        now=now,
        data={"reason": reason or "released"},
        changes={"lease_owner": None, "lease_expires_at": None},
    )


def reap(session: Session, item: ItemRef, lease_owner: Any, *, now: datetime) -> ItemRef:
    """leased -> queued: the lease expired."""
    return move(
        session,
        item,
        State.QUEUED,
        actor="system:reaper",
        now=now,
        data={"reason": "lease_expired", "lease_owner": str(lease_owner)},
        changes={"lease_owner": None, "lease_expires_at": None},
    )


# -- arrivals ------------------------------------------------------------------------------


def arrive(session: Session, rows: Sequence[Mapping[str, Any]], *, actor: str) -> None:
    """New items (rows as `new_item_row` builds them), each with its creation event."""
    session.execute(insert(items), list(rows))
    session.execute(insert(events), [creation_event(row, actor=actor) for row in rows])


def arrive_decided(
    session: Session,
    row: dict[str, Any],
    to_state: State,
    *,
    actor: str,
    decided_by: str,
    now: datetime,
    result: dict[str, Any] | None = None,
) -> None:
    """A new item decided as it arrives (by the client's rules): received -> `to_state`
    (queued for an analyst, or delivered with `result`), both events, and what follows a
    delivery."""
    arrived = {**row, "state": State.RECEIVED.value}
    decided = {**row, "state": to_state.value, "version": 2}
    kept = {"result": result, "result_sealed": None}  # the rules' own words
    if to_state is State.DELIVERED:
        decided.update(result=result, delivered_at=now)
    before = ItemRef(row["client_id"], row["id"], State.RECEIVED, 1, 0)
    session.execute(insert(items).values(decided))
    session.execute(
        insert(events),
        [
            creation_event(arrived, actor=actor),
            *step_events(before, (to_state,), actor=decided_by, now=now, attempt=0),
        ],
    )
    if to_state is State.DELIVERED:
        item = outbox.Delivered(
            row["client_id"], row["id"], row["process_id"], None, row.get("external_ref")
        )
        _delivered(session, item, kept, now)


class Arrivals:
    """A file's items arriving queued: each chunk's item rows and creation events."""

    def __init__(
        self, dialect: str, item: dict[str, Any], actor: str, store: Storing | None
    ) -> None:
        self.items = JsonInsert.of(dialect, items, ITEM_COLUMNS, item)
        event = creation_event(item, actor=actor)
        self.events = JsonInsert.of(dialect, events, [("work_item_id", "uuid")], event)
        self.store = store

    def parts(self, chunk: Sequence[list[Any]]) -> list[tuple[JsonInsert, list[list[Any]]]]:
        return [
            (self.items, item_rows(self.store, chunk)),
            (self.events, [[row[0]] for row in chunk]),
        ]

    def finish(self) -> list[tuple[JsonInsert, list[list[Any]]]]:
        return []


class DecidedArrivals:
    """A file's items decided as they arrive (by the client's rules, a chunk at a time):
    delivered ones with their results, referred ones queued, both events of each, and what
    follows a delivery (the webhook events of the client's `subscriptions`, the metric)."""

    def __init__(
        self,
        dialect: str,
        item: dict[str, Any],
        *,
        actor: str,
        decided_by: str,
        now: datetime,
        subscriptions: Sequence[uuid.UUID] = (),
    ) -> None:
        self.item = item
        self.now = now
        self.subscriptions = subscriptions
        # Every webhook event shares the columns of a template event but its four own.
        template = outbox.delivered_event(uuid.UUID(int=0), self._named(item["id"]), None, now)
        self.told = JsonInsert.of(
            dialect,
            outbox.deliveries,
            [
                ("id", "uuid"),
                ("subscription_id", "uuid"),
                ("work_item_id", "uuid"),
                ("payload", "json"),
            ],
            {**template, "client_id": item["client_id"]},
        )
        base = {**item, "version": 2}
        self.delivered = JsonInsert.of(
            dialect,
            items,
            [*ITEM_COLUMNS, ("result", "json")],
            {**base, "state": State.DELIVERED.value, "delivered_at": now},
        )
        self.referred = JsonInsert.of(
            dialect, items, ITEM_COLUMNS, {**base, "state": State.QUEUED.value}
        )
        arrived = creation_event({**item, "state": State.RECEIVED.value}, actor=actor)
        self.arrived = JsonInsert.of(dialect, events, [("work_item_id", "uuid")], arrived)
        before = ItemRef(item["client_id"], item["id"], State.RECEIVED, 1, 0)
        self.moved = {
            state: JsonInsert.of(
                dialect,
                events,
                [("work_item_id", "uuid")],
                step_events(before, (state,), actor=decided_by, now=now, attempt=0)[0],
            )
            for state in (State.DELIVERED, State.QUEUED)
        }

    def _named(self, item_id: Any, external_ref: str | None = None) -> outbox.Delivered:
        item = self.item
        return outbox.Delivered(
            item["client_id"], item_id, item["process_id"], item.get("batch_id"), external_ref
        )

    def parts(
        self, delivered: list[list[Any]], referred: list[list[Any]]
    ) -> list[tuple[JsonInsert, list[list[Any]]]]:
        """The rows of a chunk's items: `delivered` as ITEM_COLUMNS and the result,
        `referred` as ITEM_COLUMNS."""
        told = []  # the client's webhooks, told of each delivered item
        for row in delivered:  # ITEM_COLUMNS and the result
            named = self._named(uuid.UUID(row[0]), row[3])
            for subscription in self.subscriptions:
                event = outbox.delivered_event(subscription, named, row[-1], self.now)
                # ids as 32 hex digits, as SQLite keeps them (PostgreSQL casts either form)
                told.append([event["id"].hex, subscription.hex, row[0], event["payload"]])
        metrics.ITEMS_DELIVERED.inc(len(delivered))
        return [
            (self.delivered, delivered),
            (self.told, told),
            (self.referred, referred),
            (self.arrived, [[row[0]] for row in (*delivered, *referred)]),
            (self.moved[State.DELIVERED], [[row[0]] for row in delivered]),
            (self.moved[State.QUEUED], [[row[0]] for row in referred]),
        ]
