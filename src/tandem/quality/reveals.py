"""Reveals at the QA desks. A reviewer or an adjudicator sees an item as provider staff do:
its personal fields masked, in its payload, its result and each keying. Where a check or a
settlement needs a value itself, they reveal it with a reason: only of an item waiting for
them (tandem.quality.reviews.waiting: never a double-entry item they keyed, never their own
work), only personal fields, each reveal an audit record before anything is shown, as an
agent's reveal of a leased item is (tandem.privacy.service)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal, NoReturn

from tandem.catalog.service import personal_view, result_personal
from tandem.core.errors import Conflict, InvalidInput
from tandem.privacy.service import revealed
from tandem.quality import double_entry
from tandem.quality.reviews import waiting
from tandem.tenancy.context import Context
from tandem.vault.sealing import clear_payload, clear_result

# What of an item a reveal opens: its input (the source), its result (in review), or one of
# the two keyings of a double-entry disagreement (in adjudication).
Part = Literal["payload", "result", "keying1", "keying2"]
PARTS: tuple[Part, ...] = ("payload", "result", "keying1", "keying2")


def reveal_for_review(
    ctx: Context, item_id: uuid.UUID, part: Part, fields: Sequence[str], reason: str
) -> dict[str, Any]:
    """The clear values of personal `fields` of `part` of an item waiting for the caller's
    review or adjudication, for a stated reason, audited. Anyone the item does not wait for
    finds nothing (404); nobody reveals in their own work under review (409)."""
    if part not in PARTS:
        _refuse(f"one of {', '.join(PARTS)}")
    request, item = waiting(ctx, item_id)
    principal = ctx.principal
    if principal.agent_id is not None and principal.agent_id == request.agent_id:
        raise Conflict("four eyes: nobody reviews their own work")
    adjudicating = request.kind == "adjudication"
    if part == "payload":
        personal, _ = personal_view(ctx.session, item.client_id, item.process_id)
        return revealed(
            ctx, item, personal, lambda: clear_payload(ctx.keyring, item), fields, reason, part
        )
    if part == "result":
        if adjudicating:
            _refuse("an item in adjudication has no result yet: reveal a keying's values")
        return revealed(
            ctx,
            item,
            result_personal(ctx.session, item.client_id, item.process_id),
            lambda: clear_result(ctx.keyring, item) or {},
            fields,
            reason,
            part,
        )
    if not adjudicating:
        _refuse("only a double-entry disagreement has keyings: reveal its result's values")
    case = double_entry.adjudication(ctx, item_id)
    clear = case.clear[int(part[-1]) - 1]
    personal = result_personal(ctx.session, item.client_id, item.process_id)
    return revealed(ctx, item, personal, lambda: clear, fields, reason, part)


def _refuse(message: str) -> NoReturn:
    raise InvalidInput(
        "nothing of that part to reveal", errors=[{"field": "of", "message": message}]
    )
