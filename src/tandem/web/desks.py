"""The analyst and QA desks: referred decisions with the rules' reasons and trace; the review
queue, review cases with their scorecards, and double-entry conflicts side by side.

The pages are drawn from the services the API uses; what they do (claim, judge, confirm,
review, adjudicate, reveal) the page's script (static/desks.js) asks of the API, with the session
cookie, so the rules (four eyes, leases, who may adjudicate) are the API's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import personal_view, result_personal
from tandem.core.errors import Conflict
from tandem.decisions import reasons as catalogues
from tandem.decisions.models import Decision
from tandem.decisions.referrals import explain, item_decisions, pending_confirmations
from tandem.http import Services
from tandem.privacy.service import staff_view
from tandem.quality import double_entry, reviews
from tandem.quality.models import ERROR_CATEGORIES
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.finding import page_number, window_of
from tandem.web.forms import controls
from tandem.web.templating import page, viewer
from tandem.work import access
from tandem.work.models import WorkItem

router = APIRouter(include_in_schema=False)

Analyst = Annotated[Principal, Depends(viewer(Permission.DECISION_JUDGE))]
Reviewer = Annotated[Principal, Depends(viewer(Permission.QUALITY_REVIEW))]

# What a desk says after an action, by the word its script puts in the address (never the
# address's own text: nothing a link carries is shown).
REFERRAL_NOTICES = {
    "delivered": "Judged and delivered. Take the next one when ready.",
    "in_review": "Judged: it now waits for a second analyst to confirm (four eyes).",
    "confirmed": "Confirmed: the judgment is delivered.",
    "sent_back": "Sent back: the item is queued to be judged again.",
}
QUALITY_NOTICES = {
    "delivered": "Reviewed: the item is delivered.",
    "corrected": "Reviewed: the corrected result is delivered.",
    "rework": "Reviewed: the item is sent back for rework.",
    "adjudicated": "Adjudicated: the right values are delivered.",
}


def _processes(session: Session, items: Iterable[WorkItem]) -> dict[uuid.UUID, Process]:
    """The processes of these items, by id."""
    keys = {(item.client_id, item.process_id) for item in items}
    if not keys:
        return {}
    found = session.scalars(select(Process).where(tuple_(Process.client_id, Process.id).in_(keys)))
    return {process.id: process for process in found}


def _masked(session: Session, item: WorkItem, *, agent: bool) -> set[str]:
    """The item's personal fields the viewer sees masked."""
    fields, visible = personal_view(session, item.client_id, item.process_id)
    return {name for name, category in fields.items() if not agent or category not in visible}


def _cut(session: Session, item: WorkItem) -> set[str]:
    """The item's card numbers, as "part.field" (tandem.quality.reveals.Part): kept as their
    last four digits only, what the mask shows, so a reveal would show nothing more."""
    fields, _ = personal_view(session, item.client_id, item.process_id)
    results = result_personal(session, item.client_id, item.process_id)
    return {f"payload.{name}" for name, category in fields.items() if category == "card"} | {
        f"{part}.{name}"
        for name, category in results.items()
        if category == "card"
        for part in ("result", "keying1", "keying2")
    }


# -- the analyst's desk ------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    item: WorkItem
    process: str
    payload: dict[str, Any]
    masked: set[str]
    judgment: Decision


@router.get("/console/referrals", response_class=HTMLResponse)
def referrals(
    request: Request, principal: Analyst, services: Services, done: str | None = None
) -> HTMLResponse:
    """The referrals the analyst holds, and other analysts' judgments waiting for theirs."""
    agent_id = principal.agent()
    with services.context(principal) as ctx:
        session = ctx.session
        held = services.dispatcher.held(session, agent_id)
        pending = pending_confirmations(ctx, services.dispatcher)
        processes = _processes(session, [*held, *(item for item, _ in pending)])
        return page(
            request,
            "desk_referrals.html",
            principal,
            held=[
                (item, processes[item.process_id].name)
                for item in held
                if processes[item.process_id].kind == "decision"
            ],
            confirmations=[
                Confirmation(
                    item,
                    processes[item.process_id].name,
                    staff_view(session, ctx.keyring, item, agent=True),
                    _masked(session, item, agent=True),
                    judgment,
                )
                for item, judgment in pending
            ],
            notice=REFERRAL_NOTICES.get(done or ""),
            now=ctx.now,
        )


@router.get("/console/referrals/{item_id}", response_model=None)
def referral(
    item_id: uuid.UUID, request: Request, principal: Analyst, services: Services
) -> Response:
    """A referral leased to the analyst: the application, why the rules referred it (reasons
    and trace), earlier decisions on it, and the judgment form."""
    with services.context(principal) as ctx:
        session = ctx.session
        item = _leased(session, principal.agent(), item_id, ctx.now)
        process = session.get_one(Process, (item.client_id, item.process_id))
        if process.kind != "decision":  # the next item of the queues was not a referral
            return RedirectResponse(f"/console/work/{item_id}", status_code=303)
        # The trace as the payload beside it: an agent's view (tandem.privacy.service).
        explained = explain(ctx, item, audience="agent")
        decided_by = catalogues.ruleset_of(session, explained.decision)  # its rules in words
        decisions = item_decisions(session, item.client_id, item.id)
        masked = _masked(session, item, agent=True)
        return page(
            request,
            "desk_referral.html",
            principal,
            item=item,
            process=process,
            payload=staff_view(session, ctx.keyring, item, agent=True),
            hidden=masked,
            masked=masked if Permission.PERSONAL_REVEAL in principal.permissions else set(),
            referral=explained.decision,
            trace=catalogues.readable_trace(decided_by.graph, explained.trace)
            if decided_by
            else explained.trace,
            catalogue=catalogues.of_decisions(session, decisions),
            history=[d for d in decisions if d is not explained.decision],
            lease_seconds=services.settings.lease_seconds,
            now=ctx.now,
        )


def _leased(session: Session, agent_id: uuid.UUID, item_id: uuid.UUID, now: datetime) -> WorkItem:
    return access.held(session, agent_id, item_id, now=now)


# -- the QA desk -------------------------------------------------------------------------------


@router.get("/console/quality", response_class=HTMLResponse)
def quality_queue(
    request: Request, principal: Reviewer, services: Services, done: str | None = None
) -> HTMLResponse:
    """Items waiting for review, and double-entry conflicts waiting for adjudication: never
    the reviewer's own work, nor a conflict they keyed."""
    review_page = page_number(request)
    conflict_page = page_number(request, "conflicts_page")
    with services.context(principal) as ctx:
        waiting = reviews.review_queue(ctx, adjudication=False, window=window_of(review_page))
        conflicts = reviews.review_queue(ctx, adjudication=True, window=window_of(conflict_page))
        processes = _processes(ctx.session, (item for _, item in waiting.items + conflicts.items))
        return page(
            request,
            "desk_quality.html",
            principal,
            reviews=waiting.map(lambda row: (*row, processes[row[1].process_id].name)),
            review_page=review_page,
            adjudications=conflicts.map(lambda row: (*row, processes[row[1].process_id].name)),
            conflict_page=conflict_page,
            notice=QUALITY_NOTICES.get(done or ""),
            now=ctx.now,
        )


@router.get("/console/quality/reviews/{item_id}", response_model=None)
def review_case(
    item_id: uuid.UUID, request: Request, principal: Reviewer, services: Services
) -> Response:
    """An item in review: its source and result side by side, the scorecard (every field or
    criterion, passed unless marked), the verdict and its reason."""
    with services.context(principal) as ctx:
        session = ctx.session
        case = reviews.review_case(ctx, item_id)
        waiting, item, policy = case.request, case.item, case.policy
        if waiting.kind == "adjudication":
            return RedirectResponse(f"/console/quality/adjudications/{item_id}", status_code=303)
        if principal.agent_id is not None and principal.agent_id == waiting.agent_id:
            raise Conflict("four eyes: nobody reviews their own work")
        process = session.get_one(Process, (item.client_id, item.process_id))
        result = item.result or {}
        return page(
            request,
            "desk_review.html",
            principal,
            item=item,
            kind=waiting.kind,
            process=process,
            payload=staff_view(session, ctx.keyring, item, agent=False),
            hidden=_masked(session, item, agent=False),
            result=result,
            # The result as stored, as provider staff see it: its personal fields masked.
            result_hidden=set(result_personal(session, item.client_id, item.process_id)),
            reveal=Permission.REVIEW_REVEAL in principal.permissions,
            cut=_cut(session, item),
            criteria=[(name, name.replace("_", " ").capitalize()) for name in policy.criteria],
            categories=ERROR_CATEGORIES,
            controls=controls(policy.form_schema),
            now=ctx.now,
        )


@dataclass(frozen=True)
class Row:
    """One field of a double-entry conflict: both keyings and whether they agree."""

    name: str
    label: str
    first: Any
    second: Any
    differs: bool
    masked: bool  # a personal field: both keyings shown masked, settled by taking one


@router.get("/console/quality/adjudications/{item_id}", response_class=HTMLResponse)
def adjudication(
    item_id: uuid.UUID, request: Request, principal: Reviewer, services: Services
) -> HTMLResponse:
    """Both keyings side by side, field by field, the disagreements marked; the fields they
    agree on filled in, the others left for the adjudicator to settle."""
    with services.context(principal) as ctx:
        session = ctx.session
        case = double_entry.adjudication(ctx, item_id)
        first, second = (keying.values for keying in case.keyings)
        form = controls(case.policy.form_schema)
        labels = {control.name: control.label for control in form}
        names = [*labels, *sorted((set(first) | set(second)) - set(labels))]
        personal = result_personal(session, case.item.client_id, case.item.process_id)
        rows = [
            Row(
                name,
                labels.get(name, name.replace("_", " ").capitalize()),
                first.get(name),
                second.get(name),
                name in case.disagreements,
                name in personal,
            )
            for name in names
        ]
        agreed = {
            name: first[name] for name in labels if name in first and name not in case.disagreements
        }
        # A personal field is never filled in with its mask: agreed, it takes keying 1's value
        # (as an agreement delivers it), on the server.
        taken = {name: "a" for name in agreed if name in personal}
        process = session.get_one(Process, (case.item.client_id, case.item.process_id))
        return page(
            request,
            "desk_adjudication.html",
            principal,
            item=case.item,
            process=process,
            payload=staff_view(session, ctx.keyring, case.item, agent=False),
            hidden=_masked(session, case.item, agent=False),
            rows=rows,
            controls={control.name: control for control in form},
            values={name: value for name, value in agreed.items() if name not in taken},
            taken=taken,
            reveal=Permission.REVIEW_REVEAL in principal.permissions,
            cut=_cut(session, case.item),
            disagreements=[row.label for row in rows if row.differs],
            now=ctx.now,
        )
