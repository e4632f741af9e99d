"""The rules deciding items: straight-through processing at arrival (one item, or a file's
chunks) and evaluation on demand. Approve and decline are delivered at once, a referral is
queued for analysts (tandem.decisions.referrals)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from tandem.core import metrics
from tandem.core.db import new_id, new_id_hex
from tandem.core.errors import Conflict, InvalidInput
from tandem.decisions.engine import PendingVerdicts, Verdict
from tandem.decisions.models import Decision, Ruleset
from tandem.decisions.rulesets import get_ruleset, published, rules_of
from tandem.tenancy.context import Context
from tandem.vault.sealing import Storing, clear_payload
from tandem.work import transitions
from tandem.work.access import get_visible
from tandem.work.chunks import JsonInsert, item_rows
from tandem.work.lifecycle import State
from tandem.work.transitions import ItemRef, move

decisions = cast(Table, Decision.__table__)

RULES_ACTOR = "system:rules"


def auto_result(verdict: Verdict, ruleset: Ruleset) -> dict[str, Any]:
    """What the client receives for an item the rules decided: the outcome, its reasons, and
    the parts of the rules' result their mapping delivers (`details`, by path)."""
    result = {
        "outcome": verdict.outcome,
        "reason": ", ".join(verdict.reasons) or verdict.outcome,
        "reasons": verdict.reasons,
        "decided_by": "rules",
        "ruleset_version": ruleset.version,
    }
    if verdict.delivered is not None:
        result["details"] = verdict.delivered
    return result


def _decision_row(ruleset: Ruleset, now: datetime) -> dict[str, Any]:
    return {
        "client_id": ruleset.client_id,
        "process_id": ruleset.process_id,
        "by": "rules",
        "ruleset_id": ruleset.id,
        "ruleset_version": ruleset.version,
        "override": False,
        "actor": RULES_ACTOR,
        "at": now,
    }


def decide_arrival(
    session: Session,
    ruleset: Ruleset,
    row: dict[str, Any],
    payload: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> Verdict:
    """Insert a new item of a decision process (`row`, as intake built it) decided by the
    rules on its `payload` in clear: approve and decline are delivered at once (the client's
    webhooks told), a referral is queued for analysts. Item, its two events and the
    decision are written together."""
    verdict = rules_of(ruleset).decide(payload)
    to_state = State.QUEUED if verdict.outcome == "refer" else State.DELIVERED
    result = auto_result(verdict, ruleset) if to_state is State.DELIVERED else None
    transitions.arrive_decided(
        session, row, to_state, actor=actor, decided_by=RULES_ACTOR, now=now, result=result
    )
    session.execute(
        insert(decisions).values(
            id=new_id(),
            work_item_id=row["id"],
            outcome=verdict.outcome,
            reasons=verdict.reasons,
            recommended=verdict.recommendation,
            **_decision_row(ruleset, now),
        )
    )
    metrics.DECISIONS.labels("rules", verdict.outcome).inc()
    return verdict


def evaluate_item(
    ctx: Context, item_id: uuid.UUID, *, ruleset_id: uuid.UUID | None = None
) -> tuple[Decision, State]:
    """Evaluate an item on demand: with the published rules, or with the version named
    (pinned). An item waiting for an analyst (received or queued) that the rules now decide
    is delivered; one they still refer is queued, with the new reasons recorded."""
    session, now = ctx.session, ctx.now
    item = get_visible(ctx, item_id)
    ruleset: Ruleset | None
    if ruleset_id is not None:
        ruleset = pinned = get_ruleset(ctx, ruleset_id)
        if pinned.process_id != item.process_id:
            raise InvalidInput(
                "that ruleset belongs to another process",
                errors=[{"field": "ruleset_id", "message": "not a version of this process"}],
            )
        if pinned.status == "draft":
            raise Conflict("a draft decides no real item: publish it, or backtest it")
    else:
        ruleset = published(session, item.client_id, item.process_id)
    if ruleset is None:
        raise Conflict("the process has no published rules to evaluate with")
    state = State(item.state)
    if state not in (State.RECEIVED, State.QUEUED):
        raise Conflict(
            f"the item is {state.value}: only items waiting for a decision are evaluated"
        )
    verdict = rules_of(ruleset).decide(clear_payload(ctx.keyring, item))
    ref = ItemRef.of(item)
    if verdict.outcome != "refer":
        decided = {"result": auto_result(verdict, ruleset), "result_sealed": None}
        ref = transitions.deliver(session, ref, item, decided, actor=RULES_ACTOR, now=now)
    elif state is State.RECEIVED:
        ref = move(session, ref, State.QUEUED, actor=RULES_ACTOR, now=now)
    decision = Decision(
        work_item_id=item.id,
        outcome=verdict.outcome,
        reasons=verdict.reasons,
        recommended=verdict.recommendation,
        **_decision_row(ruleset, now),
    )
    session.add(decision)
    session.flush()
    metrics.DECISIONS.labels(decision.by, decision.outcome).inc()
    return decision, ref.state


class DecidingChunks:
    """Bulk intake of a decision process: each chunk of rows is decided in one engine call,
    then written as delivered items, queued referrals, their events and the decisions."""

    def __init__(
        self,
        dialect: str,
        ruleset: Ruleset,
        item: dict[str, Any],
        actor: str,
        now: datetime,
        store: Storing | None,
        subscriptions: Sequence[uuid.UUID] = (),
    ) -> None:
        self.rules = rules_of(ruleset)
        self.ruleset = ruleset
        self.store = store
        self.now = now
        self.arrivals = transitions.DecidedArrivals(
            dialect,
            item,
            actor=actor,
            decided_by=RULES_ACTOR,
            now=now,
            subscriptions=subscriptions,
        )
        self.decisions = JsonInsert.of(
            dialect,
            decisions,
            [
                ("id", "uuid"),
                ("work_item_id", "uuid"),
                ("outcome", "text"),
                ("reasons", "json"),
                ("recommended", "text"),
            ],
            _decision_row(ruleset, now),
        )
        self.outcomes: Counter[str] = Counter()
        self._pending: list[tuple[list[list[Any]], PendingVerdicts]] = []

    def parts(self, chunk: Sequence[list[Any]]) -> list[tuple[JsonInsert, list[list[Any]]]]:
        """Hand the chunk to the engine and return the rows of the chunk before it: the
        engine decides one chunk while the next is read and validated."""
        decided = self.rules.decide_later([row[1] for row in chunk])  # [id, payload, ...]
        self._pending.append((list(chunk), decided))
        return self._written(*self._pending.pop(0)) if len(self._pending) > 1 else []

    def finish(self) -> list[tuple[JsonInsert, list[list[Any]]]]:
        """The rows of the chunk still with the engine, once the file is read."""
        pending, self._pending = self._pending, []
        return [part for chunk, decided in pending for part in self._written(chunk, decided)]

    def _written(
        self, chunk: list[list[Any]], decided: PendingVerdicts
    ) -> list[tuple[JsonInsert, list[list[Any]]]]:
        delivered, referred, decisions_ = [], [], []
        rows = item_rows(self.store, chunk)
        for row, verdict in zip(rows, decided.result(), strict=True):
            item_id = row[0]
            self.outcomes[verdict.outcome] += 1
            if verdict.outcome == "refer":
                referred.append(row)
            else:
                delivered.append([*row, auto_result(verdict, self.ruleset)])
            decisions_.append(
                [new_id_hex(), item_id, verdict.outcome, verdict.reasons, verdict.recommendation]
            )
        return [
            *self.arrivals.parts(delivered, referred),
            (self.decisions, decisions_),
        ]
