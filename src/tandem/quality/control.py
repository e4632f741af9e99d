"""Quality control in the work loop: where a submitted item goes next.

A process's QA mode decides (tandem.catalog.models.QA_MODES). The submit statement delivers
items of processes without QA at once; every other submitted item comes to `after_submit`
in the same transaction: a gold copy is scored and retired, work sent back is reviewed
again, a double-entry keying waits for or meets its twin (tandem.quality.double_entry), and
the rest is reviewed as the agent's standing says (tandem.quality.standing) or delivered.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tandem.privacy.service import as_kept
from tandem.quality.double_entry import keyed
from tandem.quality.models import GoldCopy, GoldItem
from tandem.quality.normalize import agreement
from tandem.quality.policy import Db, policy_of
from tandem.quality.reviews import checks_of, record, request_review
from tandem.quality.standing import review_kind
from tandem.vault.sealing import ANSWER, Keyring, opened
from tandem.work import transitions
from tandem.work.lifecycle import State
from tandem.work.transitions import ItemRef, move


@dataclass(frozen=True)
class Submitted:
    """An item just moved leased -> submitted by its agent, as the submit statement saw it."""

    ref: ItemRef
    process_id: uuid.UUID
    batch_id: uuid.UUID | None
    external_ref: str | None
    gold: bool
    recheck: bool  # sent back to be redone: reviewed whatever the mode

    @property
    def client_id(self) -> int:
        return self.ref.client_id

    @property
    def id(self) -> uuid.UUID:
        return self.ref.id


def after_submit(
    db: Db,
    item: Submitted,
    agent_id: uuid.UUID,
    result: dict[str, Any],
    *,
    kept: Mapping[str, Any],
    now: datetime,
    rng: random.Random,
    keyring: Keyring,
) -> ItemRef:
    """Where a submitted item goes: scored and retired (gold), to review, back to the
    queue for its second keying, or delivered. `result` is in clear; `kept` is the result
    as the item holds it already (tandem.privacy.service.stored_result).

    (Not given a Context: it runs inside the lease protocol's submit, on its connection.)"""
    actor = f"agent:{agent_id}"
    if item.gold:
        return _score_gold(db, item, agent_id, result, now, keyring)
    policy = policy_of(db, item.client_id, item.process_id)
    if item.recheck:
        return request_review(db, item.ref, policy, "rework", agent_id, actor, now)
    if policy.mode == "double_entry":
        return keyed(db, item.ref, item, policy, agent_id, result, now, keyring)
    kind = review_kind(db, policy, agent_id, rng)
    if kind is None:
        return transitions.deliver(db, item.ref, item, kept, actor=actor, now=now)
    return request_review(db, item.ref, policy, kind, agent_id, actor, now)


def _score_gold(
    db: Db,
    item: Submitted,
    agent_id: uuid.UUID,
    result: dict[str, Any],
    now: datetime,
    keyring: Keyring,
) -> ItemRef:
    """Compare with the known answer (tandem.quality.gold), score the agent, retire the copy
    (never delivered)."""
    gold_id, kept, sealed = db.execute(
        select(GoldItem.id, GoldItem.answer, GoldItem.answer_sealed)
        .join(
            GoldCopy,
            (GoldCopy.client_id == GoldItem.client_id) & (GoldCopy.gold_item_id == GoldItem.id),
        )
        .where(GoldCopy.client_id == item.client_id, GoldCopy.work_item_id == item.id)
    ).one()
    answer = opened(keyring, item.client_id, gold_id, kept, sealed, ANSWER)
    result = as_kept(db, item.client_id, item.process_id, result)
    policy = policy_of(db, item.client_id, item.process_id)
    record(
        db,
        policy,
        item.id,
        agent_id,
        kind="gold",
        reviewer="system:gold",
        checks=checks_of(agreement(policy.form_schema, answer, result)),
        verdict="retire",
        now=now,
    )
    return move(
        db,
        item.ref,
        State.CANCELLED,
        actor="system:gold",
        now=now,
        data={"reason": "gold item scored"},
    )
