"""Appending to the audit trail, checking it, and handing it to auditors.

`record` runs inside the caller's transaction: the action and its audit record commit
together or not at all. Appends to one client's chain lock its head row, so they are
numbered and linked one at a time; other clients' chains are not held up.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from tandem.audit.chain import GENESIS, Entry, Finding, Head, Stored, link, seal, verify
from tandem.audit.models import PROVIDER, AuditChain, AuditRecord
from tandem.core.cells import neutral
from tandem.core.db import insert_unless_present

Db = Session | Connection

_HEAD = (
    select(AuditChain.__table__)
    .where(AuditChain.client_id == bindparam("client_id"))
    .with_for_update()
)
_MOVE_HEAD = update(AuditChain).where(AuditChain.client_id == bindparam("k_client"))
_APPEND = insert(AuditRecord)
EXPORT_COLUMNS = (
    "client_id",
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "data",
    "previous",
    "link",
)


class Actor(Protocol):
    @property
    def actor(self) -> str:
        """How the one acting appears in records."""
        ...


class Unit(Protocol):
    """What an audited use case runs with: its transaction's session, who acts, the time
    and the chain's key. tandem.tenancy.context.Context is one (described here by what the
    trail needs of it: the audit trail lies beneath tenancy)."""

    @property
    def session(self) -> Session: ...

    @property
    def principal(self) -> Actor: ...

    @property
    def now(self) -> datetime: ...

    @property
    def audit_key(self) -> bytes: ...


def record(
    db: Db,
    key: bytes,
    *,
    client_id: int,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> int:
    """Append one record to the client's chain; returns its sequence number."""
    head = db.execute(_HEAD, {"client_id": client_id}).one_or_none()
    if head is None:
        genesis = {"seq": 0, "last": GENESIS, "seal": seal(key, client_id, 0, GENESIS)}
        insert_unless_present(db, AuditChain, {"client_id": client_id, **genesis})
        head = db.execute(_HEAD, {"client_id": client_id}).one()
    entry = Entry(client_id, now, actor, action, subject, data or {})
    seq, new_link = head.seq + 1, link(key, head.last, entry)
    db.execute(
        _APPEND,
        {
            "client_id": client_id,
            "seq": seq,
            "at": now,
            "actor": actor,
            "action": action,
            "subject": subject,
            "data": entry.data,
            "previous": head.last,
            "link": new_link,
        },
    )
    db.execute(
        _MOVE_HEAD,
        {
            "k_client": client_id,
            "seq": seq,
            "last": new_link,
            "seal": seal(key, client_id, seq, new_link),
        },
    )
    return int(seq)


def record_in(
    unit: Unit, *, client_id: int, action: str, subject: str, data: dict[str, Any] | None = None
) -> int:
    """`record` for a use case: in its transaction, as the one it acts for, at its time."""
    return record(
        unit.session,
        unit.audit_key,
        client_id=client_id,
        actor=unit.principal.actor,
        action=action,
        subject=subject,
        now=unit.now,
        data=data,
    )


def check(session: Session, key: bytes, client_id: int | None = None) -> dict[int, list[Finding]]:
    """Every chain (or one client's) checked from its first record, and against the latest
    checkpoint: what is wrong, by client. An empty list means the chain is intact."""
    heads = {
        head.client_id: Head(head.client_id, head.seq, head.last, head.seal)
        for head in session.execute(
            select(AuditChain.__table__).where(_one(AuditChain.client_id, client_id))
        )
    }
    clients = set(heads) | set(
        session.scalars(
            select(AuditRecord.client_id).distinct().where(_one(AuditRecord.client_id, client_id))
        )
    )
    found = {
        client: verify(key, _stored(session, client), heads.get(client))
        for client in sorted(clients)
    }
    for client, finding in _against_checkpoint(session, client_id):
        found.setdefault(client, []).append(finding)
    return found


# -- checkpoints: the registry of chains ---------------------------------------------------
#
# A chain's links show an edited, removed or reordered record, and its sealed head a cut
# tail; but a whole chain removed (its records and its head) leaves nothing behind to check.
# So the worker records, now and then, every chain's length and last link on the provider's
# own chain (a record linked and keyed like any other): a chain a checkpoint names must
# still reach that length with that link.

CHECKPOINT = "audit.checkpoint"


def checkpoint(db: Db, key: bytes, *, now: datetime) -> bool:
    """Record every client chain's (length, last link) on the provider's chain, if any has
    moved since the last checkpoint; whether one was recorded."""
    chains = {
        str(client): [seq, last]
        for client, seq, last in db.execute(
            select(AuditChain.client_id, AuditChain.seq, AuditChain.last)
            .where(AuditChain.client_id != PROVIDER)
            .order_by(AuditChain.client_id)
        )
    }
    latest = _latest_checkpoint(db)
    if not chains or (latest is not None and latest[1] == chains):
        return False
    record(
        db,
        key,
        client_id=PROVIDER,
        actor="system:audit",
        action=CHECKPOINT,
        subject="audit:chains",
        data={"chains": chains},
        now=now,
    )
    return True


def _latest_checkpoint(db: Db) -> tuple[int, Any] | None:
    row = db.execute(
        select(AuditRecord.seq, AuditRecord.data)
        .where(AuditRecord.client_id == PROVIDER, AuditRecord.action == CHECKPOINT)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    chains = row.data.get("chains") if isinstance(row.data, dict) else None
    return int(row.seq), chains


def _against_checkpoint(session: Session, client_id: int | None) -> Iterator[tuple[int, Finding]]:
    """Each chain the latest checkpoint names that no longer reaches the length and link it
    had then (chains only grow: the latest checkpoint covers the ones before)."""
    latest = _latest_checkpoint(session)
    if latest is None:
        return
    seq, chains = latest
    if not isinstance(chains, dict):
        yield PROVIDER, Finding(seq, "checkpoint_malformed", "a checkpoint Tandem did not write")
        return
    for name, listed in chains.items():
        try:
            client, (length, last) = int(name), listed
        except (TypeError, ValueError):
            yield PROVIDER, Finding(seq, "checkpoint_malformed", f"an entry for {name!r}")
            continue
        if client_id is not None and client != client_id:
            continue
        there = session.scalar(
            select(AuditRecord.link).where(
                AuditRecord.client_id == client, AuditRecord.seq == length
            )
        )
        if there == last:
            continue
        records = session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.client_id == client)
        )
        what = "is gone" if not records else f"no longer holds record {length} as it was"
        yield (
            client,
            Finding(
                length,
                "chain_removed" if not records else "chain_rewritten",
                f"the chain of client {client}, {length} records long at checkpoint {seq} of the "
                f"provider's chain, {what}",
            ),
        )


def _one(column: Any, client_id: int | None) -> ColumnElement[bool]:
    return true() if client_id is None else column == client_id


def _stored(session: Session, client_id: int) -> Iterator[Stored]:
    rows = session.execute(
        select(AuditRecord.__table__)
        .where(AuditRecord.client_id == client_id)
        .order_by(AuditRecord.seq)
        .execution_options(yield_per=5_000)
    )
    for row in rows:
        entry = Entry(row.client_id, row.at, row.actor, row.action, row.subject, row.data)
        yield Stored(row.seq, entry, row.previous, row.link)


def export_for_auditor(
    unit: Unit, sessions: sessionmaker[Session], client_id: int, file_format: str
) -> Iterator[str]:
    """One chain for an auditor (`export`). The export is itself recorded first, in the
    provider's chain and the caller's transaction; the lines are read later, as the answer
    streams, from a session of their own (the caller's transaction has ended by then)."""
    record(
        unit.session,
        unit.audit_key,
        client_id=PROVIDER,
        actor=unit.principal.actor,
        action="audit.export",
        subject=f"client:{client_id}",
        data={"format": file_format},
        now=unit.now,
    )
    session = sessions()

    def lines() -> Iterator[str]:
        try:
            yield from export(session, client_id, file_format)
        finally:
            session.close()

    return lines()


def export(session: Session, client_id: int, file_format: str) -> Iterator[str]:
    """One client's trail for auditors, as CSV or JSON Lines, in chain order, links
    included (so a copy can be compared with the database later)."""
    rows = session.execute(
        select(*(AuditRecord.__table__.c[name] for name in EXPORT_COLUMNS))
        .where(AuditRecord.client_id == client_id)
        .order_by(AuditRecord.seq)
        .execution_options(yield_per=5_000)
    )
    if file_format == "jsonl":
        for row in rows:
            values = dict(zip(EXPORT_COLUMNS, row, strict=True))
            values["at"] = values["at"].isoformat()
            yield json.dumps(values, sort_keys=True, default=str) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        values = dict(zip(EXPORT_COLUMNS, row, strict=True))
        values["at"] = values["at"].isoformat()
        values["data"] = json.dumps(values["data"], sort_keys=True, default=str)
        writer.writerow(neutral(values[name]) for name in EXPORT_COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
