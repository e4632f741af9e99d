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
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Table,
    select,
)
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import process_kind, queue_requirements, result_form
from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import is_postgres
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.privacy.service import stored_result
from tandem.quality import control
from tandem.tenancy.context import Context
from tandem.vault.sealing import Keyring
from tandem.work import access, transitions
from tandem.work.access import refuse_lease
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.statements import (
    ORIGIN,
    queues_param,
)
from tandem.work.transitions import ItemRef, move
from tandem.workforce import presence
from tandem.workforce.eligibility import servable_queues
from tandem.workforce.service import agent_profile

processes = cast(Table, Process.__table__)


class OnBreak(Conflict):
    """A claim by an agent on a break (tandem.workforce.presence): 409, until they come back."""

    title = "On a break"


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
    on_break: bool = False  # the agent's presence (tandem.workforce.presence): no claims


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

    # -- eligibility -------------------------------------------------------------------

    def servable(self, db: Session | Connection, agent_id: uuid.UUID) -> list[tuple[int, str]]:
        """(client, routing key) pairs the agent may claim from now (none while on a break)."""
        servable = self._servable(db, agent_id)
        return [] if servable.on_break else servable.queues

    def _servable(self, db: Session | Connection, agent_id: uuid.UUID) -> _Servable:
        """Cached for a few seconds, since skills, clearances and shifts change rarely and
        claims are the hot path; with them whether the agent is on a break, so that a claim
        stays one statement (a presence change drops the cache: `forget_agent`)."""
        now = self.clock.now()
        with self._lock:
            cached = self._queues.get(agent_id)
        if cached and timedelta(0) <= now - cached.at < self._ttl:
            return cached
        with _orm(db) as session:
            profile = agent_profile(session, agent_id, now)
            requirements = queue_requirements(session, profile.cleared_clients)
            on_break = presence.on_break(session, agent_id)
        queues = servable_queues(profile, requirements, now)
        servable = _Servable(now, queues, queues_param(queues), on_break)
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
        if servable.on_break:
            raise OnBreak(
                "you are on a break: come back (the workbench's button, or PUT "
                '/api/v1/me/presence {"state": "available"}) before taking work',
                presence="break",
            )
        queues = servable.queues
        if not queues:
            metrics.EMPTY_CLAIMS.inc()
            return None
        now = self.clock.now()
        row = transitions.claim(
            connection, agent_id, queues, servable.queues_json, now=now, expires=now + self.lease
        )
        if row is None:
            metrics.EMPTY_CLAIMS.inc()
            return None
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
            .where(access.live_lease(agent_id, self.clock.now()))
            .order_by(WorkItem.due_at)
        ).all()

    def heartbeat(
        self, db: Session | Connection, agent_id: uuid.UUID, item_id: uuid.UUID, attempt: int
    ) -> datetime:
        """Extend a live lease; returns the new expiry."""
        with _unit(db) as connection:
            now = self.clock.now()
            expires = now + self.lease
            if not transitions.heartbeat(
                connection, agent_id, item_id, attempt, now=now, expires=expires
            ):
                refuse_lease(connection, agent_id, item_id, attempt)
            return expires

    def release(
        self,
        session: Session,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        reason: str | None = None,
    ) -> None:
        now = self.clock.now()
        item = self.leased(session, agent_id, item_id, attempt, now)
        transitions.release(session, ItemRef.of(item), agent_id, reason=reason, now=now)

    def assign(
        self, ctx: Context, item_id: uuid.UUID, agent_id: uuid.UUID, reason: str | None
    ) -> WorkItem:
        """Lease an item to a named agent for one lease period (operations reassigning
        work): see `assign`."""
        return assign(ctx, item_id, agent_id, reason, expires=ctx.now + self.lease)

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
        (tandem.quality.control.after_submit) decides what follows, in the same transaction.

        One fenced update moves the item and tells what it was; a result that fails the form
        raises, and the transaction (the caller's, or this one's on a connection not in a
        transaction yet) rolls the update back. A referral of a decision process is only
        handed in as a judgment (tandem.decisions.referrals.judge: `judged`), which records
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
        client_id, kept = self._stored_result(connection, agent_id, item_id, attempt, result, now)

        def check(item: Row[Any]) -> None:
            """Refuses a result the form does not accept, and a referral not judged: the
            caller's transaction rolls the fenced update back."""
            errors = result_form(connection, item.client_id, item.process_id).errors(result)
            if errors:
                raise InvalidInput(
                    "the result does not match the process form",
                    errors=[{"field": e.field, "message": e.message} for e in errors],
                )
            kind = process_kind(connection, item.client_id, item.process_id)
            if not judged and kind == "decision":
                raise Conflict(f"work item {item_id} is a referral: judge it (POST .../judgment)")

        item = transitions.submit(
            connection, agent_id, client_id, item_id, attempt, kept, now=now, check=check
        )
        if item is None:
            refuse_lease(connection, agent_id, item_id, attempt)
        ref = ItemRef(item.client_id, item.id, State(item.state), item.version, attempt)
        if ref.state is State.DELIVERED:
            return ref
        submitted = control.Submitted(
            ref, item.process_id, item.batch_id, item.external_ref, item.gold, item.recheck
        )
        return control.after_submit(
            connection,
            submitted,
            agent_id,
            result,
            kept=kept,
            now=now,
            rng=self.rng,
            keyring=self.keyring,
        )

    def _stored_result(
        self,
        connection: Connection,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        result: dict[str, Any],
        now: datetime,
    ) -> tuple[int, dict[str, Any]]:
        """The item's client and the result as it is written: sealing its personal fields
        needs the item's client and process before the one fenced update, known from the
        agent's claim when this process made it (otherwise read, if the item is leased to the
        agent: one more round trip). Anyone else is refused as the update would refuse them."""
        with self._lock:
            origin = self._origins.pop((agent_id, item_id), None)
        if origin is None:
            origin = connection.execute(
                ORIGIN, {"item_id": item_id, "agent_id": agent_id, "now": now}
            ).one_or_none()
            if origin is None:
                refuse_lease(connection, agent_id, item_id, attempt)
        client_id, process_id = origin
        return client_id, stored_result(
            connection, self.keyring, client_id, process_id, item_id, result
        )

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
        now = self.clock.now()
        item = self.leased(session, agent_id, item_id, attempt, now)
        errors = result_form(session, item.client_id, item.process_id).errors(result)
        if errors:
            raise InvalidInput(
                "the result does not match the process form",
                errors=[{"field": e.field, "message": e.message} for e in errors],
            )
        actor = f"agent:{agent_id}"
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

    def leased(
        self,
        session: Session,
        agent_id: uuid.UUID,
        item_id: uuid.UUID,
        attempt: int,
        now: datetime,
    ) -> WorkItem:
        """The item under the agent's live lease of this attempt; refused as the fenced
        statements refuse (tandem.work.access.refuse_lease)."""
        try:
            return access.held(session, agent_id, item_id, now=now, attempt=attempt)
        except NotFound:
            refuse_lease(session, agent_id, item_id, attempt)

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
            transitions.reap(session, ItemRef.of(row), row.lease_owner, now=now)
        metrics.EXPIRED_LEASES.inc(len(expired))
        return len(expired)


def reroute(ctx: Context, item_id: uuid.UUID, routing_key: str, reason: str | None) -> WorkItem:
    """Move an item to another queue of its client (the routing key of one of its active
    processes): agents who may serve that queue get it next. A key that is no such queue,
    or the item's own, is refused naming the field `routing_key`."""
    item = access.get_visible(ctx, item_id)
    keys = sorted(
        {q.routing_key for q in queue_requirements(ctx.session, frozenset({item.client_id}))}
    )
    message = None
    if routing_key == item.routing_key:
        message = "the item is in this queue already"
    elif routing_key not in keys:
        message = "not a queue of the item's client; its queues: " + ", ".join(keys)
    if message is not None:
        raise InvalidInput(
            f"work item {item_id} cannot move to the queue {routing_key!r}",
            errors=[{"field": "routing_key", "message": message}],
        )
    return transitions.reroute(ctx, item, routing_key, reason=reason)


def assign(
    ctx: Context,
    item_id: uuid.UUID,
    agent_id: uuid.UUID,
    reason: str | None,
    *,
    expires: datetime,
) -> WorkItem:
    """Lease an item to a named agent until `expires`: only to an active agent who may serve
    its queue now (cleared for its client, skilled, speaking its language, on shift: what
    their own claim would ask) and who is not kept from it (its first keyer, or the agent
    whose work was sent to someone else). A refusal names the field `agent_id` and why."""
    item = access.get_visible(ctx, item_id)

    def refuse(message: str) -> InvalidInput:
        return InvalidInput(
            f"work item {item_id} cannot be assigned to agent {agent_id}",
            errors=[{"field": "agent_id", "message": message}],
        )

    if item.excluded_agent_id == agent_id:
        raise refuse("this agent may not work this item: it needs someone else's eyes")
    try:
        profile = agent_profile(ctx.session, agent_id, ctx.now)
    except NotFound:
        raise refuse("no active agent has this id") from None
    requirements = queue_requirements(ctx.session, profile.cleared_clients)
    if (item.client_id, item.routing_key) not in servable_queues(profile, requirements, ctx.now):
        raise refuse(
            f"this agent may not serve the queue {item.routing_key!r} now (clearance for "
            "the client, skills, languages or shift)"
        )
    return transitions.assign(ctx, item, agent_id, expires=expires, reason=reason)
