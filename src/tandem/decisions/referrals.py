"""What analysts see and decide: an item's decisions and the rules' trace (masked for the
reader), an analyst's judgment on a referral, the four-eyes rule, and the second analyst's
confirmation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tandem.catalog.service import personal_view
from tandem.core import metrics
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.decisions import engine
from tandem.decisions.lineage import personal_sources
from tandem.decisions.models import Decision, Ruleset
from tandem.decisions.rulesets import published, rules_of
from tandem.dispatch.service import Dispatcher
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import AGENT_ROLES
from tandem.tenancy.principal import Principal
from tandem.vault.masking import mask_trace
from tandem.vault.sealing import clear_payload
from tandem.work import transitions
from tandem.work.access import get_visible
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import ItemRef, move


def item_decisions(session: Session, client_id: int, item_id: uuid.UUID) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.client_id == client_id, Decision.work_item_id == item_id)
            .order_by(Decision.at, Decision.by.desc())
        )
    )


def _latest(session: Session, item: WorkItem, by: str) -> Decision | None:
    """The item's latest decision by the rules, an analyst or a confirmation."""
    found = [d for d in item_decisions(session, item.client_id, item.id) if d.by == by]
    return found[-1] if found else None


@dataclass(frozen=True)
class Referral:
    """Why the rules referred an item, and how they got there."""

    decision: Decision | None
    trace: list[dict[str, Any]]


# Who reads a trace, deciding which personal values it shows in clear, as for the payload
# (tandem.privacy.service): the client's own people all of them; agents the categories the
# process lets agents see; other provider staff none.
Audience = Literal["client", "agent", "staff"]


def audience_of(principal: Principal) -> Audience:
    """The reader's audience, by the rule tandem.privacy.service.payload_for applies."""
    if principal.client_id is not None:
        return "client"
    return "agent" if principal.role in AGENT_ROLES else "staff"


def explain(ctx: Context, item: WorkItem, *, audience: Audience) -> Referral:
    """The rules' latest verdict on the item and its trace, replayed on the version that
    decided it (published versions never change, so the replay is what happened). The rules
    run on the clear payload; the trace shows the audience what its payload shows: personal
    values it may not see, and values the rules computed from them, masked."""
    session = ctx.session
    decision = _latest(session, item, "rules")
    if decision is None:
        return Referral(None, [])
    ruleset = session.get_one(Ruleset, (item.client_id, decision.ruleset_id))
    trace = rules_of(ruleset).trace(clear_payload(ctx.keyring, item))
    if audience == "client":
        return Referral(decision, trace)
    fields, visible = personal_view(session, item.client_id, item.process_id)
    if not fields:
        return Referral(decision, trace)
    shown = visible if audience == "agent" else frozenset()
    return Referral(decision, mask_trace(trace, personal_sources(ruleset.graph, fields), shown))


@dataclass(frozen=True)
class DecisionRecord:
    """An item's decisions as its reader sees them: the rules' latest verdict with its trace,
    and every decision on it (rules, analysts, confirmations) in order."""

    item: WorkItem
    referral: Referral
    history: list[Decision]


def decision_record(ctx: Context, item_id: uuid.UUID) -> DecisionRecord:
    """The record of an item the caller may see, its trace's personal values shown as the
    caller sees the item's payload (explain)."""
    item = get_visible(ctx, item_id)
    referral = explain(ctx, item, audience=audience_of(ctx.principal))
    return DecisionRecord(item, referral, item_decisions(ctx.session, item.client_id, item.id))


def _four_eyes(ruleset: Ruleset | None, outcome: str, payload: dict[str, Any]) -> bool:
    rule = ruleset.four_eyes if ruleset else {}
    if rule.get("declines") and outcome == "decline":
        return True
    amount = payload.get(rule.get("amount_field", ""))
    return isinstance(amount, int | float) and amount > rule.get("above", float("inf"))


def judge(
    ctx: Context,
    dispatcher: Dispatcher,
    item_id: uuid.UUID,
    attempt: int,
    *,
    outcome: str,
    reason: str,
    notes: str | None = None,
) -> tuple[Decision, State]:
    """The calling analyst's judgment on a referral leased to them. One that differs from
    what the rules advised on referring it (their recommendation) is an override; without
    advice there is nothing to override. When the four-eyes rule applies (a decline, or an
    amount above the limit), the item waits in review for a second analyst; otherwise it is
    delivered."""
    session, agent_id = ctx.session, ctx.principal.agent()
    if outcome not in engine.ADVICE:
        raise InvalidInput(
            "an analyst approves or declines",
            errors=[{"field": "outcome", "message": "must be approve or decline"}],
        )
    result = {"outcome": outcome, "reason": reason, **({"notes": notes} if notes else {})}
    item = dispatcher.leased(session, agent_id, item_id, attempt, ctx.now)
    referral = _latest(session, item, "rules")
    ruleset = (
        session.get(Ruleset, (item.client_id, referral.ruleset_id)) if referral else None
    ) or published(session, item.client_id, item.process_id)
    advice = referral.recommended if referral else None
    second_pair = _four_eyes(ruleset, outcome, clear_payload(ctx.keyring, item))
    if second_pair:
        ref = dispatcher.submit_for_review(session, agent_id, item_id, attempt, result)
    else:
        ref = dispatcher.submit(session, agent_id, item_id, attempt, result, judged=True)
    decision = Decision(
        client_id=item.client_id,
        work_item_id=item.id,
        process_id=item.process_id,
        by="analyst",
        outcome=outcome,
        reasons=[reason],
        ruleset_id=referral.ruleset_id if referral else None,
        ruleset_version=referral.ruleset_version if referral else None,
        recommended=advice,
        override=advice is not None and advice != outcome,
        actor=f"agent:{agent_id}",
        notes=notes,
        at=ctx.now,
    )
    session.add(decision)
    session.flush()
    metrics.DECISIONS.labels(decision.by, decision.outcome).inc()
    return decision, ref.state


def pending_confirmations(ctx: Context, dispatcher: Dispatcher) -> list[tuple[WorkItem, Decision]]:
    """Judgments waiting for a second analyst, with the item, in the queues the calling
    analyst may serve; not the ones they judged themselves."""
    session, agent_id = ctx.session, ctx.principal.agent()
    queues = dispatcher.servable(session, agent_id)
    if not queues:
        return []
    waiting = session.scalars(
        select(WorkItem)
        .where(
            WorkItem.state == State.IN_REVIEW.value,
            tuple_(WorkItem.client_id, WorkItem.routing_key).in_(queues),
        )
        .order_by(WorkItem.due_at)
        .limit(200)
    ).all()
    judgments: dict[uuid.UUID, Decision] = {}
    for decision in session.scalars(
        select(Decision)
        .where(
            tuple_(Decision.client_id, Decision.work_item_id).in_(
                [(item.client_id, item.id) for item in waiting]
            ),
            Decision.by == "analyst",
        )
        .order_by(Decision.at)
    ):
        judgments[decision.work_item_id] = decision  # the latest one
    actor = f"agent:{agent_id}"
    return [
        (item, judgments[item.id])
        for item in waiting
        if item.id in judgments and judgments[item.id].actor != actor
    ]


def confirm(
    ctx: Context,
    dispatcher: Dispatcher,
    item_id: uuid.UUID,
    *,
    agree: bool,
    notes: str | None = None,
) -> Decision:
    """The second pair of eyes, the calling analyst's: agreeing delivers the first analyst's
    judgment (and tells the client's webhooks); disagreeing sends the item back to be judged
    again (rework, then queued)."""
    session, now, agent_id = ctx.session, ctx.now, ctx.principal.agent()
    item = session.scalar(
        select(WorkItem).where(WorkItem.id == item_id, WorkItem.state == State.IN_REVIEW.value)
    )
    if item is None or (item.client_id, item.routing_key) not in dispatcher.servable(
        session, agent_id
    ):
        raise NotFound(f"work item {item_id} is not waiting for your confirmation")
    first = _latest(session, item, "analyst")
    if first is None:
        raise Conflict(f"work item {item_id} has no judgment to confirm")
    actor = f"agent:{agent_id}"
    if first.actor == actor:
        raise Conflict("four eyes: a second analyst must confirm, not the one who judged")
    ref = ItemRef.of(item)
    if agree:
        judged = {"result": item.result, "result_sealed": item.result_sealed}
        transitions.deliver(session, ref, item, judged, actor=actor, now=now)
    else:
        move(
            session,
            ref,
            (State.REWORK, State.QUEUED),
            actor=actor,
            now=now,
            data={"notes": notes} if notes else None,
            changes={"result": None, "result_sealed": None, "lease_owner": None},
        )
    decision = Decision(
        client_id=item.client_id,
        work_item_id=item.id,
        process_id=item.process_id,
        by="confirmation",
        outcome=first.outcome if agree else "refer",
        reasons=first.reasons if agree else ["NOT_CONFIRMED"],
        ruleset_id=first.ruleset_id,
        ruleset_version=first.ruleset_version,
        recommended=first.outcome,
        override=not agree,
        actor=actor,
        notes=notes,
        at=now,
    )
    session.add(decision)
    session.flush()
    metrics.DECISIONS.labels(decision.by, decision.outcome).inc()
    return decision
