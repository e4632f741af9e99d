"""Revealing personal data: permission-checked, for a reason, and audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.service import personal_view
from tandem.errors import InvalidInput, NotFound
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem


def reveal_personal(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    fields: Sequence[str],
    reason: str,
    *,
    now: datetime,
    key: bytes,
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
    return {name: item.payload.get(name) for name in fields}
