"""Quality control in the work loop: where a submitted item goes next, reviews and rework,
double entry and its adjudication, gold scoring, and the client's rejection of a delivery.

A process's QA mode decides (tandem.catalog.models.QA_MODES). The submit statement delivers
items of processes without QA at once; every other submitted item comes to `after_submit`
in the same transaction. Each agent's standing on a process (its CSP-1 phase and plan) is
updated by every review of their work, whatever its kind.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import form_of
from tandem.core import metrics
from tandem.core.db import insert_unless_present, new_id
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.privacy.service import as_kept, result_storing, stored_result
from tandem.quality.accuracy import Rate, below_threshold, wilson
from tandem.quality.models import (
    ERROR_CATEGORIES,
    SCORECARD,
    AgentQuality,
    FieldCheck,
    GoldCopy,
    GoldItem,
    Keying,
    QualityAlert,
    Review,
    ReviewRequest,
)
from tandem.quality.normalize import agreement
from tandem.quality.sampling import (
    CspState,
    Standing,
    Terms,
    after_outcome,
    first_standing,
)
from tandem.tenancy.principal import Principal
from tandem.vault.masking import kept_personal, scanned
from tandem.vault.sealing import ANSWER, Keyring, clear_result, opened
from tandem.work import transitions
from tandem.work.access import visible_item
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.work.transitions import ItemRef, move

Db = Session | Connection

# How many of an agent's latest reviews on a process the accuracy threshold looks at.
THRESHOLD_WINDOW = 50


@dataclass(frozen=True)
class Policy:
    """A process's QA policy, with what reviews check: its form fields, or for conversations
    the scorecard's criteria."""

    client_id: int
    process_id: uuid.UUID
    kind: str
    mode: str
    aoql: float
    min_accuracy: float
    form_schema: dict[str, Any]

    @property
    def criteria(self) -> tuple[str, ...]:
        if self.kind == "conversation":
            return SCORECARD
        return tuple(form_of(self.form_schema).fields)


_POLICY = select(
    Process.kind, Process.qa_mode, Process.qa_aoql, Process.qa_min_accuracy, Process.form_schema
).where(Process.client_id == bindparam("client_id"), Process.id == bindparam("process_id"))


def policy_of(db: Db, client_id: int, process_id: uuid.UUID) -> Policy:
    """Read at each use: a changed policy holds from the next submitted item."""
    row = db.execute(_POLICY, {"client_id": client_id, "process_id": process_id}).one()
    return Policy(client_id, process_id, *row)


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
    as the item holds it already (tandem.privacy.service.stored_result)."""
    actor = f"agent:{agent_id}"
    if item.gold:
        return _score_gold(db, item, agent_id, result, now, keyring)
    policy = policy_of(db, item.client_id, item.process_id)
    if item.recheck:
        return _request_review(db, item.ref, policy, "rework", agent_id, actor, now)
    if policy.mode == "double_entry":
        return _keyed(db, item, policy, agent_id, result, now, keyring)
    kind = _review_kind(db, policy, agent_id, rng)
    if kind is None:
        return transitions.deliver(db, item.ref, item, kept, actor=actor, now=now)
    return _request_review(db, item.ref, policy, kind, agent_id, actor, now)


def _review_kind(db: Db, policy: Policy, agent_id: uuid.UUID, rng: random.Random) -> str | None:
    if policy.mode == "full_review":
        return "full"
    if policy.mode != "sampling":
        return None
    row = db.execute(_STANDING, _standing_key(policy, agent_id)).one_or_none()
    if row is None:
        return "screening"  # a new agent: every item until they clear
    if row.screening or row.below_threshold:
        return "screening"
    return "sample" if rng.random() < row.fraction else None


def _request_review(
    db: Db,
    ref: ItemRef,
    policy: Policy,
    kind: str,
    agent_id: uuid.UUID | None,
    actor: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    ref = move(
        db, ref, State.IN_REVIEW, actor=actor, now=now, data={"review": kind}, changes=changes
    )
    db.execute(
        insert(ReviewRequest).values(
            client_id=ref.client_id,
            work_item_id=ref.id,
            process_id=policy.process_id,
            kind=kind,
            agent_id=agent_id,
            requested_at=now,
        )
    )
    return ref


# -- reviews -------------------------------------------------------------------------------


def _checks_of(right: Mapping[str, bool]) -> list[dict[str, Any]]:
    """Checks from a field-by-field comparison: a wrong field is a wrong value."""
    return [
        {"name": name, "passed": ok, "category": None if ok else "wrong_value"}
        for name, ok in right.items()
    ]


@dataclass(frozen=True)
class Failure:
    """A field or scorecard criterion the reviewer found wrong, and how."""

    name: str
    category: str


def _checks(policy: Policy, failures: Sequence[Failure]) -> list[dict[str, Any]]:
    """Every field (or criterion) checked: the failures named, the rest passed."""
    criteria = policy.criteria
    failed: dict[str, str] = {}
    errors = []
    for i, failure in enumerate(failures):
        if failure.name not in criteria:
            errors.append(
                {
                    "field": f"failures[{i}].name",
                    "message": f"{failure.name!r} is not one of {', '.join(criteria)}",
                }
            )
        if failure.category not in ERROR_CATEGORIES:
            errors.append(
                {
                    "field": f"failures[{i}].category",
                    "message": f"must be one of {', '.join(ERROR_CATEGORIES)}",
                }
            )
        failed[failure.name] = failure.category
    if errors:
        raise InvalidInput("the review names unknown fields or categories", errors=errors)
    return [
        {"name": name, "passed": name not in failed, "category": failed.get(name)}
        for name in criteria
    ]


def _waiting_items(principal: Principal) -> Select[ReviewRequest, WorkItem]:
    """Items in review the principal may look at: of their client (provider staff: any), and
    never a double-entry item they keyed: that would show them the other keying."""
    query = (
        select(ReviewRequest, WorkItem)
        .join(
            WorkItem,
            (WorkItem.client_id == ReviewRequest.client_id)
            & (WorkItem.id == ReviewRequest.work_item_id),
        )
        .where(
            WorkItem.state == State.IN_REVIEW.value,
            principal.client_condition(ReviewRequest.client_id),
        )
    )
    if principal.agent_id is None:
        return query
    return query.where(
        ~exists().where(
            Keying.client_id == ReviewRequest.client_id,
            Keying.work_item_id == ReviewRequest.work_item_id,
            Keying.agent_id == principal.agent_id,
        )
    )


def waiting(
    session: Session, principal: Principal, item_id: uuid.UUID
) -> tuple[ReviewRequest, WorkItem]:
    found = session.execute(
        _waiting_items(principal).where(ReviewRequest.work_item_id == item_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"work item {item_id} is not waiting for review")
    return found[0], found[1]


def review_queue(
    session: Session, principal: Principal, limit: int = 100
) -> list[tuple[ReviewRequest, WorkItem]]:
    """Items waiting for a reviewer, earliest due first; not the caller's own work."""
    query = _waiting_items(principal)
    if principal.agent_id is not None:
        query = query.where(
            or_(ReviewRequest.agent_id.is_(None), ReviewRequest.agent_id != principal.agent_id)
        )
    rows = session.execute(query.order_by(WorkItem.due_at, ReviewRequest.requested_at).limit(limit))
    return [(request, item) for request, item in rows]


def review(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    failures: Sequence[Failure],
    verdict: str,
    now: datetime,
    lease: timedelta,
    keyring: Keyring,
    corrected: dict[str, Any] | None = None,
    rework_to: str | None = None,
    reason: str | None = None,
) -> Review:
    """A reviewer's finding on an item in review: every field (or, for a conversation, every
    scorecard criterion) not named in `failures` passed. Without failures the item is
    delivered; with any, it is corrected and delivered (`corrected` is the whole result),
    or sent back for rework to the same agent (leased to them again) or to another (queued,
    the first agent excluded). A corrected field left as the reviewer saw it masked keeps
    its value."""
    request, item = waiting(session, principal, item_id)
    if request.kind == "adjudication":
        raise Conflict("a double-entry disagreement is settled by adjudication, not review")
    if principal.agent_id is not None and principal.agent_id == request.agent_id:
        raise Conflict("four eyes: nobody reviews their own work")
    if request.agent_id is None:
        raise Conflict(f"work item {item_id} has no agent's work to review")
    agent_id = request.agent_id
    policy = policy_of(session, item.client_id, item.process_id)
    checks = _checks(policy, failures)
    defect = any(not check["passed"] for check in checks)
    _check_verdict(policy, defect, verdict, corrected, rework_to)
    found = _record(
        session,
        policy,
        item.id,
        agent_id,
        kind=request.kind,
        reviewer=principal.actor,
        checks=checks,
        verdict=verdict,
        rework_to=rework_to,
        reason=reason,
        now=now,
    )
    ref = ItemRef.of(item)
    if verdict == "deliver":
        kept = {"result": item.result, "result_sealed": item.result_sealed}
        transitions.deliver(session, ref, item, kept, actor=principal.actor, now=now)
    elif verdict == "correct":
        assert corrected is not None  # _check_verdict saw to it
        clear = clear_result(keyring, item) or {}
        corrected = kept_personal(corrected, [(item.result or {}, clear)])
        fixed = stored_result(session, keyring, item.client_id, item.process_id, item.id, corrected)
        transitions.deliver(session, ref, item, fixed, actor=principal.actor, now=now)
    else:
        back_to: dict[str, tuple[State, dict[str, Any]]] = {
            # leased to its agent again, under a new attempt (the fencing token)
            "same": (
                State.LEASED,
                {
                    "attempt": item.attempt + 1,
                    "lease_owner": agent_id,
                    "lease_expires_at": now + lease,
                },
            ),
            # queued for anyone but its agent
            "other": (
                State.QUEUED,
                {"lease_owner": None, "lease_expires_at": None, "excluded_agent_id": agent_id},
            ),
        }
        to, changes = back_to[rework_to or "other"]
        move(
            session,
            ref,
            (State.REWORK, to),
            actor=principal.actor,
            now=now,
            data={"review": str(found.id), "rework_to": rework_to},
            changes={**changes, "recheck": True},
        )
    _done(session, request)
    return found


def sent_back_notes(session: Session, item: WorkItem) -> dict[str, Any] | None:
    """What the latest send-back of an item found: for the agent who redoes it (the reason
    is free text, which may name a customer's details: scanned and masked)."""
    latest = session.scalars(
        select(Review)
        .where(
            Review.client_id == item.client_id,
            Review.work_item_id == item.id,
            Review.verdict.in_(("rework", "reject")),
        )
        .order_by(Review.at.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return None
    return {
        "by": "client" if latest.kind == "acceptance" else "reviewer",
        "failed": [check for check in latest.checks if not check["passed"]],
        "reason": scanned(latest.reason) if latest.reason else latest.reason,
        "at": latest.at.isoformat(),
    }


def _check_verdict(
    policy: Policy,
    defect: bool,
    verdict: str,
    corrected: dict[str, Any] | None,
    rework_to: str | None,
) -> None:
    def refuse(field: str, message: str) -> None:
        raise InvalidInput(
            "the review's verdict does not fit its findings",
            errors=[{"field": field, "message": message}],
        )

    if not defect:
        if verdict != "deliver":
            refuse("verdict", "nothing failed, so the item is delivered: send verdict 'deliver'")
        return
    if verdict == "correct":
        if corrected is None:
            refuse("corrected", "a correction needs the corrected result")
        errors = form_of(policy.form_schema).errors(corrected or {})
        if errors:
            raise InvalidInput(
                "the corrected result does not match the process form",
                errors=[{"field": f"corrected.{e.field}", "message": e.message} for e in errors],
            )
    elif verdict == "rework":
        if rework_to not in ("same", "other"):
            refuse("rework_to", "rework goes to the 'same' agent or an 'other' one")
    else:
        refuse("verdict", "with failures, the verdict is 'correct' or 'rework'")


def _record(
    db: Db,
    policy: Policy,
    item_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    *,
    kind: str,
    reviewer: str,
    checks: list[dict[str, Any]],
    verdict: str,
    now: datetime,
    rework_to: str | None = None,
    reason: str | None = None,
    defect: bool | None = None,
) -> Review:
    """Write a review and its field checks, and update the agent's standing."""
    if defect is None:
        defect = any(not check["passed"] for check in checks)
    values = {
        "client_id": policy.client_id,
        "id": new_id(),
        "work_item_id": item_id,
        "process_id": policy.process_id,
        "agent_id": agent_id,
        "reviewer": reviewer,
        "kind": kind,
        "defect": defect,
        "verdict": verdict,
        "rework_to": rework_to,
        "checks": checks,
        "reason": reason,
        "at": now,
    }
    db.execute(_INSERT_REVIEW, values)
    if agent_id is not None:
        if checks:
            db.execute(
                _INSERT_FIELD_CHECKS,
                [
                    {
                        "client_id": policy.client_id,
                        "id": new_id(),
                        "review_id": values["id"],
                        "process_id": policy.process_id,
                        "agent_id": agent_id,
                        "field": check["name"],
                        "passed": check["passed"],
                        "category": check["category"],
                        "at": now,
                    }
                    for check in checks
                ],
            )
        record_outcome(db, policy, agent_id, defect, now)
    metrics.REVIEWS.labels(kind, "defect" if defect else "pass").inc()
    return Review(**values)


_INSERT_REVIEW = insert(Review)
_INSERT_FIELD_CHECKS = insert(FieldCheck)


def _done(db: Db, request: ReviewRequest) -> None:
    db.execute(
        delete(ReviewRequest).where(
            ReviewRequest.client_id == request.client_id,
            ReviewRequest.work_item_id == request.work_item_id,
        )
    )


# -- each agent's standing -----------------------------------------------------------------


_STANDING_KEY = (
    AgentQuality.client_id == bindparam("k_client"),
    AgentQuality.process_id == bindparam("k_process"),
    AgentQuality.agent_id == bindparam("k_agent"),
)
_STANDING = select(AgentQuality.__table__).where(*_STANDING_KEY)
_LOCK_STANDING = _STANDING.with_for_update()  # concurrent reviews of one agent queue here
_SAVE_STANDING = update(AgentQuality).where(*_STANDING_KEY)
_RECENT_DEFECTS = (
    select(Review.defect)
    .where(
        Review.client_id == bindparam("k_client"),
        Review.process_id == bindparam("k_process"),
        Review.agent_id == bindparam("k_agent"),
    )
    .order_by(Review.at.desc())
    .limit(THRESHOLD_WINDOW)
)


def _standing_key(policy: Policy, agent_id: uuid.UUID) -> dict[str, Any]:
    return {"k_client": policy.client_id, "k_process": policy.process_id, "k_agent": agent_id}


def record_outcome(
    db: Db, policy: Policy, agent_id: uuid.UUID, defect: bool, now: datetime
) -> Standing:
    """One more reviewed item of the agent's (tandem.quality.sampling.after_outcome), then
    the accuracy threshold over their latest reviews: falling below it sends the agent back
    to full review until they recover, and alerts the team lead once."""
    key = _standing_key(policy, agent_id)
    row = db.execute(_LOCK_STANDING, key).one_or_none()
    if row is None:
        first = first_standing(policy.aoql)
        insert_unless_present(
            db,
            AgentQuality,
            {
                "client_id": policy.client_id,
                "process_id": policy.process_id,
                "agent_id": agent_id,
                "clearance": first.plan.clearance,
                "fraction": first.plan.fraction,
                "updated_at": now,
            },
        )
        row = db.execute(_LOCK_STANDING, key).one()
    before = Standing(
        CspState(row.screening, row.passes_in_a_row),
        Terms(row.clearance, row.fraction),
        row.reviewed,
        row.defects,
    )
    standing = after_outcome(before, defect, policy.aoql)
    defects = [bool(d) for d in db.execute(_RECENT_DEFECTS, key).scalars()]
    rate = wilson(defects.count(False), len(defects))
    below = below_threshold(rate, policy.min_accuracy)
    if below:
        standing = replace(standing, state=CspState(screening=True, passes_in_a_row=0))
        if not row.below_threshold:
            _alert(db, policy, agent_id, rate, now)
    db.execute(
        _SAVE_STANDING,
        {
            **key,
            "screening": standing.state.screening,
            "passes_in_a_row": standing.state.passes_in_a_row,
            "reviewed": standing.reviewed,
            "defects": standing.defects,
            "clearance": standing.plan.clearance,
            "fraction": standing.plan.fraction,
            "below_threshold": below,
            "updated_at": now,
        },
    )
    return standing


def _alert(db: Db, policy: Policy, agent_id: uuid.UUID, rate: Rate, now: datetime) -> None:
    db.execute(
        insert(QualityAlert).values(
            client_id=policy.client_id,
            id=new_id(),
            process_id=policy.process_id,
            agent_id=agent_id,
            accuracy=rate.value,
            low=rate.low,
            high=rate.high,
            threshold=policy.min_accuracy,
            reviewed=rate.checked,
            at=now,
        )
    )
    metrics.QUALITY_ALERTS.inc()


# -- double entry --------------------------------------------------------------------------


def _keyed(
    db: Db,
    item: Submitted,
    policy: Policy,
    agent_id: uuid.UUID,
    result: dict[str, Any],
    now: datetime,
    keyring: Keyring,
) -> ItemRef:
    """The first keying waits, out of everyone's sight, for the second; the second is
    compared with it field by field: agreement delivers, disagreement goes to adjudication.
    The item never holds the first keying's values, so no route can show them. Keyings are
    kept as results are: personal fields masked, their clear values sealed."""
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
            attempt=item.ref.attempt,
            values=values,
            sealed=sealed,
            at=now,
        )
    )
    if first is None:
        return move(
            db,
            item.ref,
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
        checks = _checks_of(agreed)
        for keyer in (first.agent_id, agent_id):
            _record(
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
        return transitions.deliver(db, item.ref, item, kept, actor=actor, now=now)
    # The item keeps no keying: the adjudicator decides its result.
    nothing = {"result": None, "result_sealed": None}
    return _request_review(db, item.ref, policy, "adjudication", None, actor, now, nothing)


def _keying(number: int) -> str:
    """The part of an item a keying is sealed as (tandem.vault.sealing)."""
    return f"keying{number}"


@dataclass(frozen=True)
class Adjudication:
    request: ReviewRequest
    item: WorkItem
    policy: Policy
    keyings: list[Keying]  # as stored: personal fields masked, as the payload shows them
    clear: list[dict[str, Any]]  # the keyings' values in clear, to settle and score with
    disagreements: list[str]


def adjudication(
    session: Session, principal: Principal, item_id: uuid.UUID, keyring: Keyring
) -> Adjudication:
    """Both keyings of a disagreement, side by side, for a senior agent who keyed neither.
    Anyone else, the keyers included, finds nothing (404)."""
    request, item = waiting(session, principal, item_id)
    keyings = list(
        session.scalars(
            select(Keying)
            .where(Keying.client_id == item.client_id, Keying.work_item_id == item.id)
            .order_by(Keying.number)
        )
    )
    if request.kind != "adjudication" or len(keyings) != 2:
        raise NotFound(f"work item {item_id} has no double-entry disagreement")
    policy = policy_of(session, item.client_id, item.process_id)
    clear = [
        opened(keyring, item.client_id, item.id, k.values, k.sealed, _keying(k.number))
        for k in keyings
    ]
    agreed = agreement(policy.form_schema, clear[0], clear[1])
    disagreements = [name for name, same in agreed.items() if not same]
    return Adjudication(request, item, policy, keyings, clear, disagreements)


def adjudicate(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    values: dict[str, Any],
    *,
    now: datetime,
    keyring: Keyring,
) -> WorkItem:
    """Settle a disagreement with the right values, which are delivered. Each keyer is
    scored field by field against them (after the fields' normalizers). A field left as
    the adjudicator saw it masked keeps the value it stood for, if only one."""
    case = adjudication(session, principal, item_id, keyring)
    item, policy = case.item, case.policy
    errors = form_of(policy.form_schema).errors(values)
    if errors:
        raise InvalidInput(
            "the adjudicated result does not match the process form",
            errors=[{"field": f"values.{e.field}", "message": e.message} for e in errors],
        )
    values = kept_personal(
        values, [(k.values, clear) for k, clear in zip(case.keyings, case.clear, strict=True)]
    )
    settled = stored_result(session, keyring, item.client_id, item.process_id, item.id, values)
    right = as_kept(session, item.client_id, item.process_id, values)
    for keying, clear in zip(case.keyings, case.clear, strict=True):
        _record(
            session,
            policy,
            item.id,
            keying.agent_id,
            kind="adjudication",
            reviewer=principal.actor,
            checks=_checks_of(agreement(policy.form_schema, clear, right)),
            verdict="deliver",
            now=now,
        )
    transitions.deliver(session, ItemRef.of(item), item, settled, actor=principal.actor, now=now)
    _done(session, case.request)
    session.refresh(item)
    return item


# -- gold items ----------------------------------------------------------------------------


def _score_gold(
    db: Db,
    item: Submitted,
    agent_id: uuid.UUID,
    result: dict[str, Any],
    now: datetime,
    keyring: Keyring,
) -> ItemRef:
    """Compare with the known answer, score the agent, retire the copy (never delivered)."""
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
    _record(
        db,
        policy,
        item.id,
        agent_id,
        kind="gold",
        reviewer="system:gold",
        checks=_checks_of(agreement(policy.form_schema, answer, result)),
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


# -- the client's acceptance ---------------------------------------------------------------


def reject_delivered(
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    reason: str,
    fields: Iterable[str] = (),
    now: datetime,
) -> WorkItem:
    """The client sends a delivered result back: an escaped defect, counted against the
    agent who did the work (and against the outgoing-quality estimate), and the item goes
    back to the queue to be redone; the redone work is reviewed before it leaves again."""
    item = visible_item(session, principal, item_id, now)
    if item.state != State.DELIVERED.value:
        raise Conflict(f"work item {item_id} is {item.state}: only a delivered item is rejected")
    policy = policy_of(session, item.client_id, item.process_id)
    named = list(fields)
    unknown = [name for name in named if name not in policy.criteria]
    if unknown:
        raise InvalidInput(
            "the rejection names fields the process form does not have",
            errors=[{"field": "fields", "message": f"unknown: {', '.join(unknown)}"}],
        )
    checks = _checks_of({name: name not in named for name in policy.criteria}) if named else []
    _record(
        session,
        policy,
        item.id,
        _worked_by(session, item),
        kind="acceptance",
        reviewer=principal.actor,
        checks=checks,
        verdict="reject",
        reason=reason,
        defect=True,
        now=now,
    )
    move(
        session,
        ItemRef.of(item),
        (State.REWORK, State.QUEUED),
        actor=principal.actor,
        now=now,
        data={"reason": reason, "rejected_by_client": True},
        changes={
            "lease_owner": None,
            "lease_expires_at": None,
            "delivered_at": None,
            "recheck": True,
        },
    )
    session.refresh(item)
    return item


def _worked_by(session: Session, item: WorkItem) -> uuid.UUID | None:
    """The agent who submitted the delivered result; None if the client's rules decided it."""
    actor = session.scalar(
        select(WorkItemEvent.actor)
        .where(
            WorkItemEvent.client_id == item.client_id,
            WorkItemEvent.work_item_id == item.id,
            WorkItemEvent.to_state == State.SUBMITTED.value,
        )
        .order_by(WorkItemEvent.seq.desc())
        .limit(1)
    )
    if actor is None or not actor.startswith("agent:"):
        return None
    return uuid.UUID(actor.removeprefix("agent:"))
