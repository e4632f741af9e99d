"""Item state changes in the audit trail.

Every state change of a work item is an event row (tandem.work), written by the statement
that makes the change: claims and submits stay one round trip. Linking each event into the
client's chain as it happens would make every claim of a client wait for the one before it,
so the worker seals them instead: now and then it appends one record per client that names a
window of event times, how many events it holds and a digest of them all (ordered by item and
sequence). `check` recomputes each sealed window: an event edited, deleted, added or moved
between items inside a window changes its count or digest, and the chain's own links keep the
seals themselves from being edited. Events newer than the last seal are not covered yet.

A transaction still open when a window is sealed (a large file's intake) commits events
stamped with its own start, which a window already sealed would then seem to have gained.
So a window ends `grace` behind the clock and, on PostgreSQL, also before the oldest
transaction still open began (less a minute for the application's and database's clocks to
differ); on SQLite every write transaction waits for the one before it (BEGIN IMMEDIATE), so
the seal's own sees everything written before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.chain import Finding
from tandem.audit.models import AuditRecord
from tandem.tenancy.models import Client
from tandem.work.models import WorkItemEvent

ACTION = "work_item_events.seal"
GRACE = timedelta(minutes=15)
EVERY = timedelta(minutes=10)
CLOCK_MARGIN = timedelta(minutes=1)
_OLDEST_OPEN_TRANSACTION = text(
    "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)
_COLUMNS = (
    WorkItemEvent.work_item_id,
    WorkItemEvent.seq,
    WorkItemEvent.at,
    WorkItemEvent.from_state,
    WorkItemEvent.to_state,
    WorkItemEvent.actor,
    WorkItemEvent.attempt,
    WorkItemEvent.data,
)


def digest(rows: Iterable[Any]) -> tuple[int, str]:
    """(how many, SHA-256 over their canonical lines) of event rows in (item, seq) order."""
    hashed, count = hashlib.sha256(), 0
    for item, seq, at, from_state, to_state, actor, attempt, data in rows:
        values = [str(item), seq, at.isoformat(), from_state, to_state, actor, attempt, data]
        hashed.update(json.dumps(values, sort_keys=True, default=str).encode() + b"\n")
        count += 1
    return count, hashed.hexdigest()


@dataclass(frozen=True)
class Window:
    start: datetime | None  # None: from the first event
    end: datetime


def _events(session: Session, client_id: int, window: Window) -> tuple[int, str]:
    where = (WorkItemEvent.client_id == client_id) & (WorkItemEvent.at < window.end)
    if window.start is not None:
        where &= WorkItemEvent.at >= window.start
    rows = session.execute(
        select(*_COLUMNS)
        .where(where)
        .order_by(WorkItemEvent.work_item_id, WorkItemEvent.seq)
        .execution_options(yield_per=10_000)
    )
    return digest(rows)


def _sealed_until(session: Session, client_id: int) -> datetime | None:
    last = session.scalar(
        select(AuditRecord.data)
        .where(AuditRecord.client_id == client_id, AuditRecord.action == ACTION)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    )
    return datetime.fromisoformat(last["end"]) if last else None


def seal_events(
    session: Session,
    key: bytes,
    now: datetime,
    *,
    grace: timedelta = GRACE,
    every: timedelta = EVERY,
) -> int:
    """Seal each client's events since its last seal, up to `grace` ago (and, on PostgreSQL,
    up to the oldest open transaction), once at least `every` has passed; returns the number
    of events sealed."""
    end = now - grace
    if session.get_bind().dialect.name == "postgresql":
        oldest = session.scalar(_OLDEST_OPEN_TRANSACTION)
        if oldest is not None:
            end = min(end, oldest - CLOCK_MARGIN)
    sealed = 0
    for client_id in session.scalars(select(Client.id).where(Client.ended_at.is_(None))):
        start = _sealed_until(session, client_id)
        if start is not None and end - start < every:
            continue
        window = Window(start, end)
        count, hashed = _events(session, client_id, window)
        if count == 0:
            continue  # nothing to seal: the next window starts where this one did
        audit.record(
            session,
            key,
            client_id=client_id,
            actor="system:worker",
            action=ACTION,
            subject="work_item_events",
            data={
                "start": start.isoformat() if start else None,
                "end": end.isoformat(),
                "events": count,
                "digest": hashed,
            },
            now=now,
        )
        sealed += count
    return sealed


def verify_trail(
    session: Session, key: bytes, client_id: int | None = None
) -> dict[int, list[Finding]]:
    """Every chain (or one client's) checked from its first record, and every sealed
    window of item events recomputed: what is wrong, by client."""
    found = audit.check(session, key, client_id)
    for client, findings in found.items():
        findings.extend(_check_events(session, client))
    return found


def _check_events(session: Session, client_id: int) -> list[Finding]:
    """Each sealed window of the client's events recomputed against its seal."""
    found = []
    ended = session.scalar(select(Client.ended_at).where(Client.id == client_id))
    if ended is not None:
        return []  # the events were exported and deleted with everything else
    seals = session.execute(
        select(AuditRecord.seq, AuditRecord.data)
        .where(AuditRecord.client_id == client_id, AuditRecord.action == ACTION)
        .order_by(AuditRecord.seq)
    )
    for seq, data in seals:
        sealed = _window_of(data)
        if sealed is None:
            found.append(
                Finding(seq, "seal_malformed", "a seal of item events is not one Tandem wrote")
            )
            continue
        window, events, hashed_then = sealed
        count, hashed = _events(session, client_id, window)
        if (count, hashed) != (events, hashed_then):
            start = window.start.isoformat() if window.start else "the first"
            found.append(
                Finding(
                    seq,
                    "events_changed",
                    f"item events from {start} to {window.end.isoformat()}: "
                    f"{events} sealed, {count} now"
                    + ("" if count != events else ", one or more edited"),
                )
            )
    return found


def _window_of(data: Any) -> tuple[Window, int, str] | None:
    """(the window, how many events, their digest) a seal record names; None when the record
    is not what a seal holds (edited by hand: a finding, never a crash of the check)."""
    try:
        start = datetime.fromisoformat(data["start"]) if data["start"] else None
        end = datetime.fromisoformat(data["end"])
        events, hashed = data["events"], data["digest"]
    except (TypeError, KeyError, ValueError):
        return None
    if not isinstance(events, int) or isinstance(events, bool) or not isinstance(hashed, str):
        return None
    return Window(start, end), events, hashed
