"""Rotating a client's key without downtime.

`rotate` raises the client's key version: from that commit on, new items are sealed under
the new key (derived from the current master key). The worker's `advance` then re-seals the
client's older items in batches, walking them in id order from a saved cursor, so a restart
goes on where it stopped. Reads never wait: a value sealed under the old key opens with it
until it is re-sealed. Values an intake transaction begun before the rotation seals under the
old key after the walk passed them are found by a last check, and the walk starts over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.errors import NotFound
from tandem.privacy.models import KeyRotation
from tandem.privacy.vault import Keyring, key_ref
from tandem.tenancy.models import Client
from tandem.work.models import WorkItem

RESEAL_BATCH = 500


def rotate(
    session: Session, keyring: Keyring, client_id: int, *, actor: str, now: datetime, key: bytes
) -> KeyRotation:
    """Start sealing the client's personal data under a new key; audited."""
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
        key,
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
    """One step of every unfinished rotation: up to `batch` items re-sealed each. Returns
    how many were re-sealed."""
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
    behind = (WorkItem.client_id == client_id) & WorkItem.sealed.is_not(None)
    behind &= ~WorkItem.sealed.startswith(rotation.target, autoescape=True)
    after = behind if rotation.cursor is None else behind & (WorkItem.id > rotation.cursor)
    rows = session.execute(
        select(WorkItem.id, WorkItem.sealed).where(after).order_by(WorkItem.id).limit(batch)
    ).all()
    for item_id, sealed in rows:
        assert sealed is not None  # selected so
        values = keyring.open(client_id, item_id, sealed)
        session.execute(
            update(WorkItem)
            .where(
                WorkItem.client_id == client_id,
                WorkItem.id == item_id,
                WorkItem.sealed == sealed,  # purged or re-sealed meanwhile: leave it
            )
            .values(sealed=keyring.seal(client_id, version, item_id, values))
        )
    if rows:
        rotation.cursor = rows[-1][0]
        rotation.resealed += len(rows)
    elif session.scalar(select(exists().where(behind))):
        rotation.cursor = None  # sealed under the old key behind the walk: walk again
    else:
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
    return len(rows)


def status(session: Session) -> list[KeyRotation]:
    """Every rotation, latest first: what is still being re-sealed."""
    return list(session.scalars(select(KeyRotation).order_by(KeyRotation.started_at.desc())))
