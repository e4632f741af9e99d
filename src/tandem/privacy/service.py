"""Personal data in and out of storage: sealed at intake with the client's key, opened for
those who need it, revealed to an agent only with a reason, permission-checked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.service import personal_view
from tandem.errors import InvalidInput, NotFound
from tandem.privacy.masking import mask_payload
from tandem.privacy.vault import Keyring, opened, sealing
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import AGENT_ROLES
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem

Storing = Callable[[uuid.UUID | str, dict[str, Any]], tuple[dict[str, Any], str | None]]


def storing(
    db: Session | Connection, keyring: Keyring, client_id: int, process_id: uuid.UUID
) -> Storing | None:
    """How the process's items are stored: (item id, payload) -> (payload with personal
    fields masked, sealed clear values); None when the process has no personal fields."""
    fields, _ = personal_view(db, client_id, process_id)
    plan = sealing(fields)
    if plan is None:
        return None
    version = db.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one()
    return partial(plan.split, keyring.sealer(client_id, version))


def clear_payload(keyring: Keyring, item: Any) -> dict[str, Any]:
    """An item's payload (a WorkItem or a row with client_id, id, payload and sealed) with
    its personal fields in clear: for the client's own people and the client's rules."""
    return opened(keyring, item.client_id, item.id, item.payload, item.sealed)


def staff_view(
    db: Session | Connection,
    keyring: Keyring,
    item: Any,
    *,
    agent: bool,
) -> dict[str, Any]:
    """An item's payload (a WorkItem or a row like one) as provider staff see it: personal
    fields masked, except for agents the categories the process lets agents see."""
    fields, visible = personal_view(db, item.client_id, item.process_id)
    if not fields:
        return dict(item.payload)
    shown = visible if agent else frozenset()
    payload = clear_payload(keyring, item) if shown and item.sealed else item.payload
    return mask_payload(payload, fields, shown)


def payload_for(
    db: Session | Connection, keyring: Keyring, principal: Principal, item: Any
) -> dict[str, Any]:
    """An item's payload as this reader may see it: in clear for the client's own people,
    masked for provider staff (tandem.privacy.masking)."""
    if principal.client_id is not None:
        return clear_payload(keyring, item)
    return staff_view(db, keyring, item, agent=principal.role in AGENT_ROLES)


def reveal_personal(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    fields: Sequence[str],
    reason: str,
    *,
    now: datetime,
    key: bytes,
    keyring: Keyring,
) -> dict[str, Any]:
    """The clear values of `fields` of an item leased to the agent now; each reveal is an
    audit record (who, which item, which fields, why), written before anything is shown."""
    item = session.scalar(
        select(WorkItem).where(
            WorkItem.id == item_id,
            WorkItem.lease_owner == principal.agent(),
            WorkItem.state == State.LEASED.value,
            WorkItem.lease_expires_at > now,
        )
    )
    if item is None:
        raise NotFound(f"work item {item_id} not found")
    personal, _ = personal_view(session, item.client_id, item.process_id)
    unknown = [name for name in fields if name not in personal]
    if unknown:
        raise InvalidInput(
            "only personal fields are revealed",
            errors=[{"field": "fields", "message": f"not personal fields: {', '.join(unknown)}"}],
        )
    audit.record(
        session,
        key,
        client_id=item.client_id,
        actor=principal.actor,
        action="personal_data.reveal",
        subject=f"work_item:{item.id}",
        data={"fields": sorted(fields), "reason": reason},
        now=now,
    )
    clear = clear_payload(keyring, item)
    return {name: clear.get(name) for name in fields}
