"""Claim, heartbeat, release, submit and reap: the lease protocol of the work loop.

An item is leased to one agent at a time. The lease carries a fencing token (the item's
attempt number): heartbeat, release and submit name the attempt they hold, and are refused
once the lease was lost (expired and reaped, or released).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, cast

from sqlalchemy import (
    Connection,
    Table,
    TextualSelect,
    bindparam,
    case,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import process_kind, queue_requirements, result_form
from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import is_postgres
from tandem.core.errors import Conflict, InvalidInput, LeaseLost, NotFound
from tandem.delivery import outbox
from tandem.dispatch.queries import (
    candidates_per_key,
    claim_postgres,
    claim_sqlite,
    queues_param,
)
from tandem.privacy.service import stored_result
from tandem.quality import service as quality
from tandem.vault.sealing import Keyring
from tandem.work.lifecycle import State, check_transition
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.work.transitions import ItemRef, events, items, move, step_events
from tandem.workforce.eligibility import servable_queues
from tandem.workforce.service import agent_profile

processes = cast(Table, Process.__table__)

# The hot path's statements, built once: a claim or submit only binds values.
_FENCES = (
    items.c.id == bindparam("item_id"),
    items.c.state == State.LEASED.value,
    items.c.attempt == bindparam("held_attempt"),
    items.c.lease_owner == bindparam("agent_id"),
    items.c.lease_expires_at > bindparam("now"),
)
_HEARTBEAT = update(items).where(*_FENCES).values(lease_expires_at=bindparam("expires"))
_SUBMITTED = (State.SUBMITTED, State.DELIVERED)
# Quality control decides what follows a submit when the process has a QA mode, the item is
# a gold item, or it was sent back to be redone; otherwise the submit delivers at once.
_QA_MODE = (
    select(processes.c.qa_mode)
    .where(processes.c.client_id == items.c.client_id, processes.c.id == items.c.process_id)
    .scalar_subquery()
)
_CHECKED = or_(items.c.gold, items.c.recheck, _QA_MODE != "none")
# The fenced move leased -> submitted (-> delivered); it returns the item as it now is.
_SUBMIT = (
    update(items)
    .where(*_FENCES)
    .values(
        state=case((_CHECKED, State.SUBMITTED.value), else_=State.DELIVERED.value),
        version=items.c.version + case((_CHECKED, 1), else_=len(_SUBMITTED)),
        updated_at=bindparam("now"),
        result=bindparam("result_value"),
        result_sealed=bindparam("result_sealed"),
        delivered_at=case((_CHECKED, None), else_=bindparam("now")),
        lease_expires_at=None,
        breached=or_(items.c.breached, items.c.due_at < bindparam("now")),
    )
    .returning(
        items.c.client_id,
        items.c.id,
        items.c.process_id,
        items.c.batch_id,
        items.c.external_ref,
        items.c.state,
        items.c.version,
        items.c.attempt,
        items.c.gold,
        items.c.recheck,
        outbox.has_subscribers(items.c.client_id).label("notify"),
    )
)
_INSERT_EVENTS = insert(events)
# Submit's two event rows in one statement (an executemany costs a pipeline per call), as
# INSERT ... SELECT ... UNION ALL SELECT: a VALUES list would not be cacheable.
_EVENT_COLUMNS = tuple(column for column in events.c if column.name != "data")
_INSERT_SUBMIT_EVENTS = insert(events).from_select(
    [c.name for c in _EVENT_COLUMNS],
    union_all(
        *(
            select(*(bindparam(f"{c.name}_{i}", type_=c.type) for c in _EVENT_COLUMNS))
            for i in range(len(_SUBMITTED))
        )
    ),
)


@contextmanager
def _unit(db: Session | Connection) -> Iterator[Connection]:
    """The connection to work on: a session's (in its transaction), a connection already in
    a transaction, or a connection given a transaction of its own for the block."""
    if isinstance(db, Session):
        yield db.connection()
    elif db.in_transaction():
        yield db
    else:
        with db.begin():
            yield db


@contextmanager
def _orm(db: Session | Connection) -> Iterator[Session]:
    """A session for the ORM's reads: the one given, or one on the given connection."""
    if isinstance(db, Session):
        yield db
    else:
        with Session(bind=db) as session:
            yield session


@dataclass(frozen=True)
class _Servable:
    at: datetime
    queues: list[tuple[int, str]]
    queues_json: str  # the claim's :queues parameter


@dataclass(frozen=True)
class Lease:
    client_id: int
    item_id: uuid.UUID
    process_id: uuid.UUID
    routing_key: str
    attempt: int
    expires_at: datetime
    due_at: datetime
    payload: dict[str, Any]
    sealed: str | None  # the personal fields, encrypted (tandem.vault.sealing)

    @property
    def id(self) -> uuid.UUID:
        """The item's id, named as on a WorkItem (what tandem.privacy.service reads)."""
        return self.item_id


# The client and process of an item leased to the agent, read when this process did not
# lease it (only the holder's: anyone else is refused as the fenced update would be).
_ORIGIN = select(items.c.client_id, items.c.process_id).where(
    items.c.id == bindparam("item_id"), items.c.lease_owner == bindparam("agent_id")
)
_ORIGINS_KEPT = 100_000


class Dispatcher:
    """Stateless apart from two caches: the queues each agent may serve, and the client and
    process of the items it leased, by agent (an item's never change)."""

    def __init__(
        self,
        clock: Clock,
        keyring: Keyring,
        lease_seconds: int = 300,
        eligibility_ttl_s: float = 30.0,
    ) -> None:
        self.clock = clock
        self.keyring = keyring  # results' personal fields are sealed as they are handed in
        self.lease = timedelta(seconds=lease_seconds)
        self._ttl = timedelta(seconds=eligibility_ttl_s)
        self._queues: dict[uuid.UUID, _Servable] = {}
        self._origins: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, uuid.UUID]] = {}
        self._lock = threading.Lock()
        self.rng = random.Random()  # which items CSP-1 samples; tests seed it
        # What the claim and submit statements do, checked against the lifecycle once.
        check_transition(State.QUEUED, State.LEASED)
        check_transition(State.LEASED, _SUBMITTED[0])
        check_transition(_SUBMITTED[0], _SUBMITTED[1])

    # -- eligibility -------------------------------------------------------------------

    def servable(self, db: Session | Connection, agent_id: uuid.UUID) -> list[tuple[int, str]]:
        """(client, routing key) pairs the agent may claim from now."""
        return self._servable(db, agent_id).queues

    def _servable(self, db: Session | Connection, agent_id: uuid.UUID) -> _Servable:
        """Cached for a few seconds, since skills, clearances and shifts change rarely and
        claims are the hot path."""
        now = self.clock.now()
        with self._lock:
            cached = self._queues.get(agent_id)
        if cached and timedelta(0) <= now - cached.at < self._ttl:
            return cached
        with _orm(db) as session:
            profile = agent_profile(session, agent_id)
            requirements = queue_requirements(session, profile.cleared_clients)
        queues = servable_queues(profile, requirements, now)
        servable = _Servable(now, queues, queues_param(queues))
        with self._lock:
            self._queues[agent_id] = servable
        return servable

    def forget_agent(self, agent_id: uuid.UUID) -> None:
        """Drop the agent's cached queues: their next claim reads their skills, languages,
        clearances and shifts afresh. Called once a change to the agent has committed (this
        process's cache only: another process's copy expires within the cache's few seconds)."""
        with self._lock:
            self._queues.pop(agent_id, None)

    # -- the lease protocol ------------------------------------------------------------

    def claim(self, db: Session | Connection, agent_id: uuid.UUID) -> Lease | None:
        """Lease the next item: earliest due, then highest priority, then oldest.

        `db` is a Session whose transaction this starts, or a Core connection (the API's hot
        path: no ORM session to set up). On PostgreSQL the claim is one statement (lease and
        event) and, unless the connection is in a transaction already, runs as its own
        implicit transaction, which saves the BEGIN and COMMIT round trips. On SQLite a
        connection not yet in a transaction gets one (BEGIN IMMEDIATE: the single writer)."""
        if isinstance(db, Session):
            postgres = is_postgres(db)
            options = {"isolation_level": "AUTOCOMMIT"} if postgres else None
            connection = db.connection(execution_options=options)  # first: before any read
            return self._claim(connection, agent_id, self._servable(db, agent_id))
        own_transaction = not db.in_transaction()
        if own_transaction and db.dialect.name == "postgresql":
            db.execution_options(isolation_level="AUTOCOMMIT")
            own_transaction = False
        servable = self._servable(db, agent_id)
        if not own_transaction:
            return self._claim(db, agent_id, servable)
        with db.begin():
            return self._claim(db, agent_id, servable)

    def _claim(
        self, connection: Connection, agent_id: uuid.UUID, servable: _Servable
    ) -> Lease | None:
        queues = servable.queues
        if not queues:
            metrics.EMPTY_CLAIMS.inc()
            return None
        postgres = connection.dialect.name == "postgresql"
        now = self.clock.now()
        params: dict[str, Any] = {
            "agent_id": agent_id,
            "lease_expires_at": now + self.lease,
            "now": now,
        }
        actor = f"agent:{agent_id}"
        statement: TextualSelect
        if postgres:
            statement = claim_postgres(candidates_per_key(len(queues)))
            params["queues"] = servable.queues_json
            params["actor"] = actor
        else:
            statement = claim_sqlite(len(queues))
            for i, (client, key) in enumerate(queues):
                params[f"c{i}"], params[f"k{i}"] = client, key
        row = connection.execute(statement, params).one_or_none()
        if row is None:
            metrics.EMPTY_CLAIMS.inc()
            return None
        if not postgres:  # PostgreSQL's claim statement wrote the event already
            leased = ItemRef(row.client_id, row.id, State.QUEUED, row.version - 1, row.attempt)
            connection.execute(
                _INSERT_EVENTS,
                step_events(leased, (State.LEASED,), actor=actor, now=now, attempt=row.attempt),
            )
        metrics.CLAIMS.inc()
        with self._lock:
            if len(self._origins) >= _ORIGINS_KEPT:
                self._origins.pop(next(iter(self._origins)))
            self._origins[(agent_id, row.id)] = (row.client_id, row.process_id)
        return Lease(
            row.client_id,
            row.id,
            row.process_id,
            row.routing_key,
            row.attempt,
            row.lease_expires_at,
            row.due_at,
            row.payload,
            row.sealed,
        )

    def held(self, session: Session, agent_id: uuid.UUID) -> Sequence[WorkItem]:
        """The live leases of an agent, earliest due first."""
        return session.scalars(
            select(WorkItem)
            .where(
                WorkItem.lease_owner == agent_id,
                WorkItem.state == State.LEASED.value,
                WorkItem.lease_expires_at > self.clock.now(),
            )
            .order_by(WorkItem.due_at)
        ).all()

    def heartbeat(
        self, db: Session | Connection, agent_id: uuid.UUID, item_id: uuid.UUID, attempt: int
    ) -> datetime:
        """Extend a live lease; returns the new expiry."""
        with _unit(db) as connection:
            now = self.clock.now()
            expires = now + self.lease
            fences = {"item_id": item_id, "held_attempt": attempt, "agent_id": agent_id}
            params = {**fences, "now": now, "expires": expires}
            if connection.execute(_HEARTBEAT, params).rowcount != 1:
                self._refuse(connection, agent_id, item_id, attempt)
            return expires

    def release(
        self,
        session: Session,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        reason: str | None = None,
    ) -> None:
        item = self._leased(session, agent_id, item_id, attempt)
        move(
            session,
            ItemRef.of(item),
            State.QUEUED,
            actor=f"agent:{agent_id}",
            now=self.clock.now(),
            data={"reason": reason or "released"},
            changes={"lease_owner": None, "lease_expires_at": None},
        )

    def submit(
        self,
        db: Session | Connection,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
        *,
        judged: bool = False,
    ) -> ItemRef:
        """Hand in a result validated against the process form. It is delivered at once,
        unless the process has a QA mode or the item is a gold item: then quality control
        (tandem.quality.service.after_submit) decides what follows, in the same transaction.

        One fenced update moves the item and tells what it was; a result that fails the form
        raises, and the transaction (the caller's, or this one's on a connection not in a
        transaction yet) rolls the update back. A referral of a decision process is only
        handed in as a judgment (tandem.decisions.service.judge: `judged`), which records
        the decision and applies the four-eyes rule."""
        with _unit(db) as connection:
            return self._submit(connection, agent_id, item_id, attempt, result, judged)

    def _submit(
        self,
        connection: Connection,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
        judged: bool,
    ) -> ItemRef:
        now = self.clock.now()
        fences = {"item_id": item_id, "held_attempt": attempt, "agent_id": agent_id, "now": now}
        stored = self._stored_result(connection, agent_id, item_id, attempt, result)
        item = connection.execute(
            _SUBMIT,
            {**fences, "result_value": stored["result"], "result_sealed": stored["result_sealed"]},
        ).one_or_none()
        if item is None:
            self._refuse(connection, agent_id, item_id, attempt)
        errors = result_form(connection, item.client_id, item.process_id).errors(result)
        if errors:
            raise InvalidInput(
                "the result does not match the process form",
                errors=[{"field": e.field, "message": e.message} for e in errors],
            )
        if not judged and process_kind(connection, item.client_id, item.process_id) == "decision":
            raise Conflict(f"work item {item_id} is a referral: judge it (POST .../judgment)")
        actor = f"agent:{agent_id}"
        if item.state == State.SUBMITTED.value:  # quality control decides what follows
            before = ItemRef(item.client_id, item.id, State.LEASED, item.version - 1, attempt)
            connection.execute(
                _INSERT_EVENTS,
                step_events(before, _SUBMITTED[:1], actor=actor, now=now, attempt=attempt),
            )
            submitted = quality.Submitted(
                ItemRef(item.client_id, item.id, State.SUBMITTED, item.version, attempt),
                item.process_id,
                item.batch_id,
                item.external_ref,
                item.gold,
                item.recheck,
            )
            return quality.after_submit(
                connection,
                submitted,
                agent_id,
                result,
                kept=stored,
                now=now,
                rng=self.rng,
                keyring=self.keyring,
            )
        version = item.version - len(_SUBMITTED)
        before = ItemRef(item.client_id, item.id, State.LEASED, version, attempt)
        rows = step_events(before, _SUBMITTED, actor=actor, now=now, attempt=attempt)
        connection.execute(
            _INSERT_SUBMIT_EVENTS,
            {f"{c.name}_{i}": row[c.name] for i, row in enumerate(rows) for c in _EVENT_COLUMNS},
        )
        if item.notify:
            outbox.item_delivered(connection, item, stored, now)
        metrics.ITEMS_DELIVERED.inc()
        return ItemRef(item.client_id, item.id, _SUBMITTED[-1], item.version, attempt)

    def _stored_result(
        self,
        connection: Connection,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
    ) -> dict[str, Any]:
        """The result as it is written: sealing its personal fields needs the item's client
        and process before the one fenced update, known from the agent's claim when this
        process made it (otherwise read, if the item is leased to the agent: one more round
        trip). Anyone else is refused as the update would refuse them."""
        with self._lock:
            origin = self._origins.pop((agent_id, item_id), None)
        if origin is None:
            origin = connection.execute(
                _ORIGIN, {"item_id": item_id, "agent_id": agent_id}
            ).one_or_none()
            if origin is None:
                self._refuse(connection, agent_id, item_id, attempt)
        client_id, process_id = origin
        return stored_result(connection, self.keyring, client_id, process_id, item_id, result)

    def submit_for_review(
        self,
        session: Session,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
    ) -> ItemRef:
        """Hand in a result that a second person checks before it is delivered (four eyes):
        leased -> submitted -> in_review. Not the hot path: the plain moves suffice."""
        item = self._leased(session, agent_id, item_id, attempt)
        errors = result_form(session, item.client_id, item.process_id).errors(result)
        if errors:
            raise InvalidInput(
                "the result does not match the process form",
                errors=[{"field": e.field, "message": e.message} for e in errors],
            )
        actor, now = f"agent:{agent_id}", self.clock.now()
        return move(
            session,
            ItemRef.of(item),
            (State.SUBMITTED, State.IN_REVIEW),
            actor=actor,
            now=now,
            changes={
                **stored_result(
                    session, self.keyring, item.client_id, item.process_id, item_id, result
                ),
                "lease_expires_at": None,
            },
        )

    def _leased(
        self, session: Session, agent_id: uuid.UUID, item_id: uuid.UUID, attempt: int
    ) -> Any:
        item = session.execute(
            select(items).where(
                items.c.id == item_id,
                items.c.state == State.LEASED.value,
                items.c.attempt == attempt,
                items.c.lease_owner == agent_id,
                items.c.lease_expires_at > self.clock.now(),
            )
        ).one_or_none()
        if item is None:
            self._refuse(session, agent_id, item_id, attempt)
        return item

    def _refuse(
        self, db: Session | Connection, agent_id: uuid.UUID, item_id: uuid.UUID, attempt: int
    ) -> NoReturn:
        """409 to an agent who held this lease once; 404 to anyone else (nothing to probe)."""
        held = db.scalar(
            select(WorkItemEvent.seq)
            .join(
                WorkItem,
                (WorkItem.client_id == WorkItemEvent.client_id)
                & (WorkItem.id == WorkItemEvent.work_item_id),
            )
            .where(
                WorkItem.id == item_id,
                WorkItemEvent.to_state == State.LEASED.value,
                WorkItemEvent.attempt == attempt,
                WorkItemEvent.actor == f"agent:{agent_id}",
            )
        )
        if held is None:
            raise NotFound(f"work item {item_id} not found")
        raise LeaseLost(
            f"your lease on work item {item_id} (attempt {attempt}) is no longer valid: "
            "it expired or was released; claim again"
        )

    # -- the reaper --------------------------------------------------------------------

    def reap(self, session: Session, limit: int = 1000) -> int:
        """Return expired leases to the queue. Safe to run in several workers at once."""
        now = self.clock.now()
        query = (
            select(
                WorkItem.client_id,
                WorkItem.id,
                WorkItem.state,
                WorkItem.version,
                WorkItem.attempt,
                WorkItem.lease_owner,
            )
            .where(WorkItem.state == State.LEASED.value, WorkItem.lease_expires_at <= now)
            .order_by(WorkItem.lease_expires_at)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        expired: Sequence[Any] = session.execute(query).all()
        for row in expired:
            move(
                session,
                ItemRef.of(row),
                State.QUEUED,
                actor="system:reaper",
                now=now,
                data={"reason": "lease_expired", "lease_owner": str(row.lease_owner)},
                changes={"lease_owner": None, "lease_expires_at": None},
            )
        metrics.EXPIRED_LEASES.inc(len(expired))
        return len(expired)
