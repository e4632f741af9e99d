"""Reviews: items waiting for a reviewer, a reviewer's finding (every field or scorecard
criterion checked, the verdict: delivered, corrected, or sent back for rework), what a
send-back tells the agent who redoes the work, and the record every review leaves (its
field checks, and the agent's standing moved: tandem.quality.standing).

Machine comparisons (double entry, gold scoring) and the client's rejections are recorded
as reviews too, so that accuracy counts them all."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, insert, or_, select
from sqlalchemy.orm import Session

from tandem.catalog.service import form_of
from tandem.core import metrics, paging
from tandem.core.db import new_id
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.privacy.service import stored_result
from tandem.quality.models import ERROR_CATEGORIES, FieldCheck, Keying, Review, ReviewRequest
from tandem.quality.policy import Db, Policy, policy_of
from tandem.quality.standing import record_outcome
from tandem.tenancy.context import Context
from tandem.tenancy.principal import Principal
from tandem.vault.masking import kept_personal, scanned
from tandem.vault.sealing import clear_result
from tandem.work import transitions
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import ItemRef, move


def request_review(
    db: Db,
    ref: ItemRef,
    policy: Policy,
    kind: str,
    agent_id: uuid.UUID | None,
    actor: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
) -> ItemRef:
    """The item moves to review, and waits for a reviewer of `kind`."""
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


def checks_of(right: Mapping[str, bool]) -> list[dict[str, Any]]:
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


# -- the review queue ----------------------------------------------------------------------


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


def waiting(ctx: Context, item_id: uuid.UUID) -> tuple[ReviewRequest, WorkItem]:
    """The item, if it waits for review and the caller may look at it; otherwise NotFound."""
    found = ctx.session.execute(
        _waiting_items(ctx.principal).where(ReviewRequest.work_item_id == item_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"work item {item_id} is not waiting for review")
    return found[0], found[1]


def review_queue(
    ctx: Context,
    *,
    process_id: uuid.UUID | None = None,
    adjudication: bool | None = None,
    window: paging.Window = paging.Window(),
) -> paging.Page[tuple[ReviewRequest, WorkItem]]:
    """A page of the items waiting for a reviewer (on every process the caller sees, or one;
    conflicts to adjudicate, or reviews, or both), earliest due first; not the caller's own
    work."""
    principal = ctx.principal
    query = _waiting_items(principal)
    if principal.agent_id is not None:
        query = query.where(
            or_(ReviewRequest.agent_id.is_(None), ReviewRequest.agent_id != principal.agent_id)
        )
    if process_id is not None:
        query = query.where(WorkItem.process_id == process_id)
    if adjudication is not None:
        conflicts = ReviewRequest.kind == "adjudication"
        query = query.where(conflicts if adjudication else ~conflicts)
    order = (WorkItem.due_at, ReviewRequest.requested_at, WorkItem.id)
    return paging.read(ctx.session, query.order_by(*order), window)


@dataclass(frozen=True)
class ReviewCase:
    """An item waiting for review, with the policy that says what to check."""

    request: ReviewRequest
    item: WorkItem
    policy: Policy


def review_case(ctx: Context, item_id: uuid.UUID) -> ReviewCase:
    """What a reviewer looks at: the item waiting, and what its review checks."""
    request, item = waiting(ctx, item_id)
    return ReviewCase(request, item, policy_of(ctx.session, item.client_id, item.process_id))


# -- a reviewer's finding ------------------------------------------------------------------


def review(
    ctx: Context,
    item_id: uuid.UUID,
    *,
    failures: Sequence[Failure],
    verdict: str,
    lease: timedelta,
    corrected: dict[str, Any] | None = None,
    rework_to: str | None = None,
    reason: str | None = None,
) -> Review:
    """A reviewer's finding on an item in review: every field (or, for a conversation, every
    scorecard criterion) not named in `failures` passed. Without failures the item is
    delivered; with any, it is corrected and delivered (`corrected` is the whole result),
    or sent back for rework to the same agent (leased to them again for `lease`) or to
    another (queued, the first agent excluded). A corrected field left as the reviewer saw
    it masked keeps its value."""
    session, principal, now = ctx.session, ctx.principal, ctx.now
    request, item = waiting(ctx, item_id)
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
    found = record(
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
        clear = clear_result(ctx.keyring, item) or {}
        corrected = kept_personal(corrected, [(item.result or {}, clear)])
        fixed = stored_result(
            session, ctx.keyring, item.client_id, item.process_id, item.id, corrected
        )
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
    close_request(session, request)
    return found


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


# -- the record of every review ------------------------------------------------------------


def record(
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


def close_request(db: Db, request: ReviewRequest) -> None:
    """The review (or adjudication) asked for is done."""
    db.execute(
        delete(ReviewRequest).where(
            ReviewRequest.client_id == request.client_id,
            ReviewRequest.work_item_id == request.work_item_id,
        )
    )
