"""Double entry: two agents key the same item apart; agreement delivers, a disagreement goes
to a senior agent who keyed neither, who settles it (adjudication). Keyings are kept as
results are: personal fields masked, their clear values sealed (as `keying1`, `keying2`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from tandem.catalog.service import form_of
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.privacy.service import as_kept, result_storing, stored_result
from tandem.quality.models import Keying, ReviewRequest
from tandem.quality.normalize import agreement
from tandem.quality.policy import Db, Policy, policy_of
from tandem.quality.reviews import checks_of, close_request, record, request_review, waiting
from tandem.tenancy.context import Context
from tandem.vault.masking import kept_personal
from tandem.vault.sealing import Keyring, opened
from tandem.work import transitions
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import DeliveredItem, ItemRef, move


def keyed(
    db: Db,
    ref: ItemRef,
    item: DeliveredItem,
    policy: Policy,
    agent_id: uuid.UUID,
    result: dict[str, Any],
    now: datetime,
    keyring: Keyring,
) -> ItemRef:
    """A keying submitted (`item` as the submit saw it: tandem.quality.control.Submitted;
    `result` in clear). The first keying waits, out of everyone's sight, for the second;
    the second is compared with it field by field: agreement delivers, disagreement goes to
    adjudication. The item never holds the first keying's values, so no route can show
    them."""
    actor = f"agent:{agent_id}"
    first = db.execute(
        select(Keying.agent_id, Keying.values, Keying.sealed).where(
            Keying.client_id == item.client_id, Keying.work_item_id == item.id, Keying.number == 1
        )
    ).one_or_none()
    if first is not None and first.agent_id == agent_id:
        raise Conflict("double entry: the second keying must be another agent's")
    number = 1 if first is None else 2
    store = result_storing(db, keyring, item.client_id, item.process_id, _keying(number))
    values, sealed = store(item.id, result) if store else (result, None)
    db.execute(
        insert(Keying).values(
            client_id=item.client_id,
            work_item_id=item.id,
            number=number,
            agent_id=agent_id,
            attempt=ref.attempt,
            values=values,
            sealed=sealed,
            at=now,
        )
    )
    if first is None:
        return move(
            db,
            ref,
            State.QUEUED,
            actor=actor,
            now=now,
            data={"keying": 1},
            changes={
                "result": None,
                "result_sealed": None,
                "lease_owner": None,
                "lease_expires_at": None,
                "excluded_agent_id": agent_id,
            },
        )
    first_values = opened(keyring, item.client_id, item.id, first.values, first.sealed, _keying(1))
    second = as_kept(db, item.client_id, item.process_id, result)
    agreed = agreement(policy.form_schema, first_values, second)
    if all(agreed.values()):
        checks = checks_of(agreed)
        for keyer in (first.agent_id, agent_id):
            record(
                db,
                policy,
                item.id,
                keyer,
                kind="double_entry",
                reviewer="system:double_entry",
                checks=checks,
                verdict="deliver",
                now=now,
            )
        kept = stored_result(db, keyring, item.client_id, item.process_id, item.id, first_values)
        return transitions.deliver(db, ref, item, kept, actor=actor, now=now)
    # The item keeps no keying: the adjudicator decides its result.
    nothing = {"result": None, "result_sealed": None}
    return request_review(db, ref, policy, "adjudication", None, actor, now, nothing)


def _keying(number: int) -> str:
    """The part of an item a keying is sealed as (tandem.vault.sealing)."""
    return f"keying{number}"


# An adjudicator's choice of a keying's value, by letter: keying 1 is "a", keying 2 "b".
TAKE = {"a": 0, "b": 1}


def is_choice(value: Any) -> bool:
    """Whether a settled value is a choice of a keying's value: {"take": ...}, alone."""
    return isinstance(value, Mapping) and set(value) == {"take"}


def taken(
    form_schema: Mapping[str, Any], clear: Sequence[Mapping[str, Any]], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The values the choices among `values` take from the keyings (`clear`: in clear, in
    order), by field; a keying that left the field out leaves it out. A choice that is not
    "a" or "b", or of a field not in the result form, is refused, naming the field."""
    fields = form_schema.get("properties", {})
    chosen: dict[str, Any] = {}
    errors = []
    for name, value in values.items():
        if not is_choice(value):
            continue
        which = value["take"]
        if not isinstance(which, str) or which not in TAKE:
            message = "take 'a' (keying 1's value) or 'b' (keying 2's value)"
        elif name not in fields:
            message = "is not a field of the result form: there is no keying's value to take"
        else:
            keying = clear[TAKE[which]]
            if name in keying:
                chosen[name] = keying[name]
            continue
        errors.append({"field": f"values.{name}", "message": message})
    if errors:
        raise InvalidInput("the adjudication's choices name no keying's value", errors=errors)
    return chosen


@dataclass(frozen=True)
class Adjudication:
    request: ReviewRequest
    item: WorkItem
    policy: Policy
    keyings: list[Keying]  # as stored: personal fields masked, as the payload shows them
    clear: list[dict[str, Any]]  # the keyings' values in clear, to settle and score with
    disagreements: list[str]


def adjudication(ctx: Context, item_id: uuid.UUID) -> Adjudication:
    """Both keyings of a disagreement, side by side, for a senior agent who keyed neither.
    Anyone else, the keyers included, finds nothing (404)."""
    request, item = waiting(ctx, item_id)
    keyings = list(
        ctx.session.scalars(
            select(Keying)
            .where(Keying.client_id == item.client_id, Keying.work_item_id == item.id)
            .order_by(Keying.number)
        )
    )
    if request.kind != "adjudication" or len(keyings) != 2:
        raise NotFound(f"work item {item_id} has no double-entry disagreement")
    policy = policy_of(ctx.session, item.client_id, item.process_id)
    clear = [
        opened(ctx.keyring, item.client_id, item.id, k.values, k.sealed, _keying(k.number))
        for k in keyings
    ]
    agreed = agreement(policy.form_schema, clear[0], clear[1])
    disagreements = [name for name, same in agreed.items() if not same]
    return Adjudication(request, item, policy, keyings, clear, disagreements)


def adjudicate(ctx: Context, item_id: uuid.UUID, values: dict[str, Any]) -> WorkItem:
    """Settle a disagreement with the right values, which are delivered. Each keyer is
    scored field by field against them (after the fields' normalizers). A field's value may
    be a choice instead (`taken`): {"take": "a"} or {"take": "b"}, keying 1's or keying 2's
    value, taken here from its clear values, so that a personal field is settled without
    anyone seeing or retyping it. A field left as the adjudicator saw it masked keeps the
    value it stood for, if only one."""
    session, actor = ctx.session, ctx.principal.actor
    case = adjudication(ctx, item_id)
    item, policy = case.item, case.policy
    typed = {name: value for name, value in values.items() if not is_choice(value)}
    typed = kept_personal(
        typed, [(k.values, clear) for k, clear in zip(case.keyings, case.clear, strict=True)]
    )
    chosen = taken(policy.form_schema, case.clear, values)
    values = {
        name: chosen[name] if name in chosen else typed[name]
        for name in values
        if name in typed or name in chosen
    }
    # A value taken passed the form when it was keyed (a card number since cut to its last
    # four, as Tandem keeps it): only the rest is checked here.
    errors = [
        e for e in form_of(policy.form_schema).errors(values) if e.field.split(".")[0] not in chosen
    ]
    if errors:
        raise InvalidInput(
            "the adjudicated result does not match the process form",
            errors=[{"field": f"values.{e.field}", "message": e.message} for e in errors],
        )
    settled = stored_result(session, ctx.keyring, item.client_id, item.process_id, item.id, values)
    right = as_kept(session, item.client_id, item.process_id, values)
    for keying, clear in zip(case.keyings, case.clear, strict=True):
        record(
            session,
            policy,
            item.id,
            keying.agent_id,
            kind="adjudication",
            reviewer=actor,
            checks=checks_of(agreement(policy.form_schema, clear, right)),
            verdict="deliver",
            now=ctx.now,
        )
    transitions.deliver(session, ItemRef.of(item), item, settled, actor=actor, now=ctx.now)
    close_request(session, case.request)
    session.refresh(item)
    return item
