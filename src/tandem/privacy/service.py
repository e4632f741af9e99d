"""Personal data in and out of storage: sealed at intake with the client's key, opened for
those who need it, revealed to an agent only with a reason, permission-checked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.service import personal_view, result_personal
from tandem.core.errors import InvalidInput
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import AGENT_ROLES
from tandem.tenancy.principal import Principal
from tandem.vault.masking import CATEGORIES, is_masked, mask, mask_payload
from tandem.vault.sealing import RESULT, Keyring, Storing, clear_payload, clear_result, sealing
from tandem.work import access

# Categories whose mask can never be a keyed value (a card's mask is what is kept of it; free
# text may hold bullets).
_KEYED = frozenset(CATEGORIES) - {"card", "free_text"}


def storing(
    db: Session | Connection, keyring: Keyring, client_id: int, process_id: uuid.UUID
) -> Storing | None:
    """How the process's items are stored: (item id, payload) -> (payload with personal
    fields masked, sealed clear values); None when the process has no personal fields."""
    fields, _ = personal_view(db, client_id, process_id)
    plan = sealing(fields)
    if plan is None:
        return None
    return Storing(plan, keyring.sealer(client_id, _key_version(db, client_id)))


def result_storing(
    db: Session | Connection,
    keyring: Keyring,
    client_id: int,
    process_id: uuid.UUID,
    part: str = RESULT,
) -> Storing | None:
    """How the process's results (`part`: or one keying of a double-entry item) are stored:
    the result form's personal fields masked, their clear values sealed; None when the result
    form has no personal fields."""
    plan = sealing(result_personal(db, client_id, process_id))
    if plan is None:
        return None
    return Storing(plan, keyring.sealer(client_id, _key_version(db, client_id), part))


def stored_result(
    db: Session | Connection,
    keyring: Keyring,
    client_id: int,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
    result: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns an item's result is written to: `result` with its personal fields masked
    and `result_sealed` with their clear values."""
    fields = result_personal(db, client_id, process_id) if result else {}
    if not result or not fields:
        return {"result": result, "result_sealed": None}
    if masked := [
        name for name, kind in fields.items() if kind in _KEYED and is_masked(result.get(name))
    ]:
        raise InvalidInput(
            "a result cannot hold a masked value",
            errors=[
                {"field": name, "message": "is a masked value: key the value itself"}
                for name in masked
            ],
        )
    store = result_storing(db, keyring, client_id, process_id)
    assert store is not None  # the form has personal fields
    stored, sealed = store(item_id, result)
    return {"result": stored, "result_sealed": sealed}


def as_kept(
    db: Session | Connection, client_id: int, process_id: uuid.UUID, result: dict[str, Any]
) -> dict[str, Any]:
    """A result in clear as Tandem keeps it (what opening it gives back): its card numbers
    cut to their last four, never kept whole. Compare a new result with kept ones so."""
    fields = result_personal(db, client_id, process_id)
    return {
        name: mask(value, "card") if fields.get(name) == "card" else value
        for name, value in result.items()
    }


def _key_version(db: Session | Connection, client_id: int) -> int:
    return int(db.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one())


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
    masked for provider staff (tandem.vault.masking)."""
    if principal.client_id is not None:
        return clear_payload(keyring, item)
    return staff_view(db, keyring, item, agent=principal.role in AGENT_ROLES)


def result_for(
    db: Session | Connection, keyring: Keyring, principal: Principal, item: Any
) -> dict[str, Any] | None:
    """An item's result as this reader may see it, as its payload is: in clear for the
    client's own people; for provider staff the result form's personal fields masked, except
    for agents the categories the process lets agents see."""
    result = clear_result(keyring, item)
    fields = result_personal(db, item.client_id, item.process_id)
    if result is None or principal.client_id is not None or not fields:
        return result
    _, visible = personal_view(db, item.client_id, item.process_id)
    return mask_payload(result, fields, visible if principal.role in AGENT_ROLES else ())


def reveal_personal(
    ctx: Context, item_id: uuid.UUID, fields: Sequence[str], reason: str
) -> dict[str, Any]:
    """The clear values of `fields` of an item leased to the calling agent now; each reveal
    is an audit record (who, which item, which fields, why), written before anything is
    shown."""
    item = access.held(ctx.session, ctx.principal.agent(), item_id, now=ctx.now)
    personal, _ = personal_view(ctx.session, item.client_id, item.process_id)
    return revealed(ctx, item, personal, lambda: clear_payload(ctx.keyring, item), fields, reason)


def revealed(
    ctx: Context,
    item: Any,
    personal: Collection[str],
    clear: Callable[[], Mapping[str, Any]],
    fields: Sequence[str],
    reason: str,
    part: str | None = None,
) -> dict[str, Any]:
    """The clear values of `fields`, all of them among `personal`, of a part of an item the
    caller may reveal (whoever calls has decided that): its input, or `part` (its result, a
    keying: named in the record), which `clear` opens. The audit record (who, which item,
    which fields, why) is written before anything is shown."""
    unknown = [name for name in fields if name not in personal]
    if unknown:
        raise InvalidInput(
            "only personal fields are revealed",
            errors=[{"field": "fields", "message": f"not personal fields: {', '.join(unknown)}"}],
        )
    data: dict[str, Any] = {"fields": sorted(fields), "reason": reason}
    if part is not None:
        data["of"] = part
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action="personal_data.reveal",
        subject=f"work_item:{item.id}",
        data=data,
    )
    opened = clear()
    return {name: opened.get(name) for name in fields}
