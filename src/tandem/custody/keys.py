"""Rotating a client's key without downtime.

`rotate` raises the client's key version: from that commit on, new items are sealed under
the new key (derived from the current master key). The worker's `advance` then re-seals the
client's older items in batches, walking them in id order from a saved cursor, so a restart
goes on where it stopped. Reads never wait: a value sealed under the old key opens with it
until it is re-sealed. Values an intake transaction begun before the rotation seals under the
old key after the walk passed them are found by a last check, and the walk starts over. An
item's input and result are both re-sealed by the walk; then, a batch a step, what is sealed
beside the items (gold items, double-entry keyings, webhook events waiting or kept, the
documents handed over with items; the service desk's customers, their identities,
conversations, messages, survey comments and attachments), and the step that finds nothing
left finishes the rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.core.errors import NotFound
from tandem.custody.models import KeyRotation
from tandem.delivery.models import WebhookDelivery
from tandem.documents import service as documents
from tandem.quality.models import GoldItem, Keying
from tandem.servicedesk import custody as desk
from tandem.servicedesk.customers import CUSTOMER, IDENTITY
from tandem.servicedesk.inbound import MESSAGE
from tandem.servicedesk.models import Conversation, Customer, CustomerIdentity, Message
from tandem.servicedesk.surveys import SURVEY, Survey
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.vault.sealing import ANSWER, INPUT, RESULT, Keyring, key_ref
from tandem.work.models import WorkItem

RESEAL_BATCH = 500


def rotate(ctx: Context, client_id: int, *, actor: str | None = None) -> KeyRotation:
    """Start sealing the client's personal data under a new key; audited, as `actor` (by
    default the caller; the CLI names itself)."""
    session, keyring, now = ctx.session, ctx.keyring, ctx.now
    actor = ctx.principal.actor if actor is None else actor
    client = session.get(Client, client_id, with_for_update=True)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    client.key_version += 1
    session.execute(  # an unfinished earlier rotation is superseded by this one
        update(KeyRotation)
        .where(KeyRotation.client_id == client_id, KeyRotation.finished_at.is_(None))
        .values(finished_at=now)
    )
    rotation = KeyRotation(
        client_id=client_id,
        target=keyring.prefix(client.key_version),
        requested_by=actor,
        started_at=now,
    )
    session.add(rotation)
    audit.record(
        session,
        ctx.audit_key,
        client_id=client_id,
        actor=actor,
        action="encryption_key.rotate",
        subject=f"client:{client_id}",
        data={"key_version": client.key_version, "master_key": keyring.current.id},
        now=now,
    )
    session.flush()
    return rotation


def advance(
    session: Session, keyring: Keyring, now: datetime, *, key: bytes, batch: int = RESEAL_BATCH
) -> int:
    """One step of every unfinished rotation: up to `batch` items re-sealed each (and, in
    its last step, the client's gold items). Returns how many were re-sealed."""
    resealed = 0
    rotations = session.scalars(
        select(KeyRotation)
        .where(KeyRotation.finished_at.is_(None))
        .with_for_update(skip_locked=True)
    ).all()
    for rotation in rotations:
        resealed += _step(session, keyring, rotation, now, key=key, batch=batch)
    return resealed


def _step(
    session: Session,
    keyring: Keyring,
    rotation: KeyRotation,
    now: datetime,
    *,
    key: bytes,
    batch: int,
) -> int:
    client_id = rotation.client_id
    _, version = key_ref(rotation.target)
    old = _behind(WorkItem.sealed, rotation.target) | _behind(
        WorkItem.result_sealed, rotation.target
    )
    behind = (WorkItem.client_id == client_id) & old
    after = behind if rotation.cursor is None else behind & (WorkItem.id > rotation.cursor)
    rows = session.execute(
        select(WorkItem.id, WorkItem.sealed, WorkItem.result_sealed)
        .where(after)
        .order_by(WorkItem.id)
        .limit(batch)
    ).all()
    for item_id, sealed, result_sealed in rows:
        session.execute(
            update(WorkItem)
            .where(
                WorkItem.client_id == client_id,
                WorkItem.id == item_id,
                # purged or re-sealed meanwhile: leave it
                WorkItem.sealed.is_(None) if sealed is None else WorkItem.sealed == sealed,
                WorkItem.result_sealed.is_(None)
                if result_sealed is None
                else WorkItem.result_sealed == result_sealed,
            )
            .values(
                sealed=_resealed(keyring, client_id, version, item_id, sealed, INPUT),
                result_sealed=_resealed(
                    keyring, client_id, version, item_id, result_sealed, RESULT
                ),
            )
        )
    if rows:
        rotation.cursor = rows[-1][0]
        rotation.resealed += len(rows)
        return len(rows)
    if session.scalar(select(exists().where(behind))):
        rotation.cursor = None  # sealed under the old key behind the walk: walk again
        return 0
    # The items are done: then, a batch at a time, what is sealed beside them.
    others = sum(
        _reseal(session, keyring, client_id, rotation.target, version, copies, batch)
        for copies in _BESIDE_ITEMS
    ) + sum(  # documents and attachments a few at a time: each may hold megabytes
        reseal(session, keyring, client_id, rotation.target, version, max(1, batch // 50))
        for reseal in (documents.reseal, desk.reseal_attachments)
    )
    rotation.resealed += others
    if others:
        return others
    rotation.finished_at = now
    audit.record(
        session,
        key,
        client_id=client_id,
        actor="system:key-rotation",
        action="encryption_key.rotated",
        subject=f"client:{client_id}",
        data={"key_version": version, "resealed": rotation.resealed},
        now=now,
    )
    return 0


def _behind(column: Any, target: str) -> ColumnElement[bool]:
    """Whether a sealed column holds a value not yet under the rotation's key."""
    behind: ColumnElement[bool] = column.is_not(None) & ~column.startswith(target, autoescape=True)
    return behind


def _resealed(
    keyring: Keyring, client_id: int, version: int, bound: Any, sealed: str | None, part: str
) -> str | None:
    if sealed is None:
        return None
    values = keyring.open(client_id, bound, sealed, part)
    return keyring.seal(client_id, version, bound, values, part)


@dataclass(frozen=True)
class Sealed:
    """A table whose rows keep a sealed value, bound to a row (an item, a gold item, a
    customer, a conversation, a message, a survey): which column holds it, which column
    names what it is bound to, and which part of it the value is."""

    table: Any
    column: str
    bound_to: str
    part: Callable[[Any], str]


_BESIDE_ITEMS = (
    Sealed(GoldItem, "sealed", "id", lambda _: INPUT),
    Sealed(GoldItem, "answer_sealed", "id", lambda _: ANSWER),
    Sealed(Keying, "sealed", "work_item_id", lambda row: f"keying{row.number}"),
    Sealed(WebhookDelivery, "result_sealed", "work_item_id", lambda _: RESULT),
    # the service desk's (tandem.servicedesk: each bound as the module sealing it binds it)
    Sealed(Customer, "sealed", "id", lambda _: CUSTOMER),
    Sealed(CustomerIdentity, "sealed", "customer_id", lambda _: IDENTITY),
    Sealed(Conversation, "sealed", "id", lambda _: MESSAGE),
    Sealed(Message, "sealed", "id", lambda _: MESSAGE),
    Sealed(Survey, "sealed", "id", lambda _: SURVEY),
)


def _reseal(
    session: Session,
    keyring: Keyring,
    client_id: int,
    target: str,
    version: int,
    copies: Sealed,
    batch: int,
) -> int:
    """Re-seal up to `batch` of the client's rows of a table not yet under the rotation's
    key; returns how many. Re-sealed rows leave the condition, so no cursor is needed: each
    batch scans the client's rows of the table again, which is fine for the few (gold
    items, double-entry keyings, webhook events kept until the retention purge) and bearable
    for the service desk's messages (each batch reads the client's re-sealed ones again)."""
    table = copies.table
    column = getattr(table, copies.column)
    keys = list(table.__table__.primary_key.columns)
    rows = (
        session.execute(
            select(table).where(table.client_id == client_id, _behind(column, target)).limit(batch)
        )
        .scalars()
        .all()
    )
    for row in rows:
        sealed = getattr(row, copies.column)
        part = copies.part(row)
        bound = getattr(row, copies.bound_to)
        session.execute(
            update(table)
            .where(*(key == getattr(row, key.key) for key in keys), column == sealed)
            .values({copies.column: _resealed(keyring, client_id, version, bound, sealed, part)})
        )
    return len(rows)


def status(session: Session) -> list[KeyRotation]:
    """Every rotation, latest first: what is still being re-sealed."""
    return list(session.scalars(select(KeyRotation).order_by(KeyRotation.started_at.desc())))
