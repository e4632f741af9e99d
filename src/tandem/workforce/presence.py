"""An agent's presence: available (signed in, ready for work), on a break, or signed out.

Each change is a row of `agent_presence` (when, which state, by which means): signing in
to the console makes the agent available, signing out signs them out, and the agent takes a
break and comes back with the workbench's button or the API. A console session that just
lapses writes nothing (nobody is there to write it): whoever reads the presence treats the
agent as signed out from the session's last request plus the idle timeout
(`tandem.workforce.adherence.actual_spans`; `current` here). While on a break the agent
claims nothing (`on_break`, asked by the dispatcher's claim).

Per agent, never per client, and not audited: a few rows per agent per day, read by the
adherence reports (tandem.reports.adherence)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.orm import Session

from tandem.core.db import new_id
from tandem.core.errors import InvalidInput
from tandem.tenancy.context import Context
from tandem.tenancy.models import ConsoleSession
from tandem.tenancy.service import hash_token
from tandem.workforce.adherence import Actual, Interval, PresenceChange, actual_spans
from tandem.workforce.models import Agent, AgentPresence

State = Literal["available", "break", "signed_out"]
Means = Literal["sign_in", "sign_out", "console", "api"]
CHOSEN = ("available", "break")  # what an agent sets themselves (signing out is signing out)


def record(
    db: Session | Connection, agent_id: uuid.UUID, state: State, means: Means, now: datetime
) -> None:
    db.execute(
        insert(AgentPresence),
        [{"id": new_id(), "agent_id": agent_id, "at": now, "state": state, "means": means}],
    )


def latest(db: Session | Connection, agent_id: uuid.UUID) -> tuple[str, datetime] | None:
    """The agent's last recorded state and its time (None: never recorded)."""
    row = db.execute(
        select(AgentPresence.state, AgentPresence.at)
        .where(AgentPresence.agent_id == agent_id)
        .order_by(AgentPresence.at.desc(), AgentPresence.id.desc())
        .limit(1)
    ).one_or_none()
    return (row.state, row.at) if row is not None else None


def on_break(db: Session | Connection, agent_id: uuid.UUID) -> bool:
    """True while the agent's last recorded state is a break: they claim nothing until
    they come back (or sign in again). The dispatcher keeps it with the agent's queues for
    a few seconds: whoever changes the presence drops that cache once committed
    (Dispatcher.forget_agent)."""
    found = latest(db, agent_id)
    return found is not None and found[0] == "break"


# -- the hooks of signing in and out ---------------------------------------------------------


def signed_in(session: Session, agent_id: uuid.UUID | None, now: datetime) -> None:
    """A console sign-in: the agent (if the user is one) is available."""
    if agent_id is not None:
        record(session, agent_id, "available", "sign_in", now)


def signing_out(session: Session, token: str, now: datetime) -> None:
    """Before a console session ends by signing out: its user's agent is signed out."""
    agent_id = session.scalar(
        select(Agent.id)
        .join(ConsoleSession, ConsoleSession.user_id == Agent.user_id)
        .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.ended_at.is_(None))
    )
    if agent_id is not None:
        record(session, agent_id, "signed_out", "sign_out", now)


# -- the agent's own ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    state: Actual  # working, idle (available), break or signed out
    since: datetime | None  # None: never recorded
    means: str | None  # sign_in, sign_out, console, api; "expiry" when a session lapsed


def set_presence(ctx: Context, state: str, *, means: Means, idle: timedelta) -> Presence:
    """The calling agent takes a break ("break") or comes back ("available"). Setting the
    state they are in changes nothing."""
    agent_id = ctx.principal.agent()
    if state not in CHOSEN:
        message = "must be available or break (signing out is signing out)"
        raise InvalidInput(f"state: {message}", errors=[{"field": "state", "message": message}])
    found = latest(ctx.session, agent_id)
    if found is None or found[0] != state:
        record(ctx.session, agent_id, state, means, ctx.now)  # type: ignore[arg-type]
    return current(ctx.session, agent_id, now=ctx.now, idle=idle)


def session_intervals(
    session: Session,
    user_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    idle: timedelta,
) -> dict[uuid.UUID, list[Interval]]:
    """Each user's console sessions overlapping [start, end), as the intervals they were
    live: from their creation to their sign-out, or to their last request plus `idle`
    (whichever is first; a live session's may lie ahead)."""
    found: dict[uuid.UUID, list[Interval]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return found
    rows = session.execute(
        select(
            ConsoleSession.user_id,
            ConsoleSession.created_at,
            ConsoleSession.last_seen_at,
            ConsoleSession.ended_at,
        ).where(
            ConsoleSession.user_id.in_(list(user_ids)),
            ConsoleSession.created_at < end,
            ConsoleSession.last_seen_at > start - idle,
            or_(ConsoleSession.ended_at.is_(None), ConsoleSession.ended_at > start),
        )
    )
    for user_id, created, seen, ended in rows:
        until = seen + idle
        if ended is not None and ended < until:
            until = ended
        if until > created:
            found[user_id].append((created, until))
    return found


def changes(
    session: Session, agent_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, list[PresenceChange]]:
    """Each agent's presence changes in [start, end), after the last one before `start`
    (which says the state at `start`), oldest first."""
    found: dict[uuid.UUID, list[PresenceChange]] = {agent_id: [] for agent_id in agent_ids}
    if not agent_ids:
        return found
    ids = list(agent_ids)
    for agent_id in ids:  # the last before the period: one indexed look-up per agent
        before = session.execute(
            select(AgentPresence.at, AgentPresence.state, AgentPresence.means)
            .where(AgentPresence.agent_id == agent_id, AgentPresence.at < start)
            .order_by(AgentPresence.at.desc(), AgentPresence.id.desc())
            .limit(1)
        ).one_or_none()
        if before is not None:
            found[agent_id].append(PresenceChange(before.at, before.state, before.means))
    rows = session.execute(
        select(AgentPresence.agent_id, AgentPresence.at, AgentPresence.state, AgentPresence.means)
        .where(AgentPresence.agent_id.in_(ids), AgentPresence.at >= start, AgentPresence.at < end)
        .order_by(AgentPresence.agent_id, AgentPresence.at, AgentPresence.id)
    )
    for agent_id, at, state, means in rows:
        found[agent_id].append(PresenceChange(at, state, means))
    return found


def current(session: Session, agent_id: uuid.UUID, *, now: datetime, idle: timedelta) -> Presence:
    """The agent's presence now (working when they hold a live lease and are not on a
    break is the reports' business: this reads presence and sessions only)."""
    user_id = session.scalar(select(Agent.user_id).where(Agent.id == agent_id))
    start = now - timedelta(days=1)
    end = now + timedelta(seconds=1)
    history = changes(session, [agent_id], start, end)[agent_id]
    sessions = (
        session_intervals(session, [user_id], start, end, idle=idle)[user_id] if user_id else []
    )
    spans = actual_spans(history, sessions, [], start, end)
    last = spans[-1]
    since = last.start if history and last.start > start else (history[-1].at if history else None)
    return Presence(last.state, since, last.means)
