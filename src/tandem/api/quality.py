"""Quality control's routes: QA policies, the review desk, double-entry adjudication, gold
items, the client's rejection of a delivery, accuracy, the report and alerts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from tandem.api.work import shown
from tandem.catalog.models import Process
from tandem.catalog.service import get_process, result_personal
from tandem.core import paging
from tandem.documents import gold as gold_documents
from tandem.http import Paging, Services, paged, paged_responses, uses
from tandem.privacy.service import staff_view
from tandem.quality import (
    double_entry,
    gold,
    overview,
    policy,
    rejection,
    report,
    reveals,
    reviews,
    standing,
)
from tandem.quality.accuracy import Rate
from tandem.quality.models import ERROR_CATEGORIES, Review
from tandem.quality.sampling import fraction_inspected, plan_for
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.work.models import WorkItem
from tandem.work.schemas import WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["quality"])

ReadingProcesses = Annotated[Context, uses(Permission.PROCESS_READ)]
Managing = Annotated[Context, uses(Permission.QUALITY_MANAGE)]
Reviewing = Annotated[Context, uses(Permission.QUALITY_REVIEW)]
RevealingInReview = Annotated[Context, uses(Permission.REVIEW_REVEAL)]
Reading = Annotated[Context, uses(Permission.QUALITY_READ)]
ReadingAgents = Annotated[Context, uses(Permission.AGENT_QUALITY_READ)]
Rejecting = Annotated[Context, uses(Permission.RESULT_REJECT)]

QaMode = Literal["none", "sampling", "double_entry", "full_review"]


class QualityPolicyIn(BaseModel):
    mode: QaMode
    # Below 0.0001 no CSP-1 plan of tandem.quality.sampling reaches the target.
    aoql: float = Field(
        default=0.01, ge=0.0001, le=0.2, description="Promised outgoing defect rate"
    )
    min_accuracy: float = Field(
        default=0.95, ge=0, le=1, description="Agents below it go back to full review"
    )
    gold_rate: float = Field(default=0.0, ge=0, le=0.5, description="Gold items per real item")


class QualityPolicyOut(QualityPolicyIn):
    process_id: uuid.UUID
    # The CSP-1 plan a new agent is screened under and, once cleared, sampled with.
    example_plan: dict[str, float] | None

    @classmethod
    def of(cls, process: Process) -> QualityPolicyOut:
        plan = plan_for(process.qa_aoql, process.qa_aoql) if process.qa_mode == "sampling" else None
        return cls(
            process_id=process.id,
            mode=process.qa_mode,
            aoql=process.qa_aoql,
            min_accuracy=process.qa_min_accuracy,
            gold_rate=process.qa_gold_rate,
            example_plan=None
            if plan is None
            else {
                "clearance": plan.clearance,
                "fraction": plan.fraction,
                "aoql": plan.aoql,
                "review_fraction_at_1_percent": fraction_inspected(
                    0.01, plan.clearance, plan.fraction
                ),
            },
        )


@router.get("/processes/{process_id}/quality-policy", response_model=QualityPolicyOut)
def get_quality_policy(process_id: uuid.UUID, ctx: ReadingProcesses) -> QualityPolicyOut:
    return QualityPolicyOut.of(get_process(ctx, process_id))


@router.put("/processes/{process_id}/quality-policy", response_model=QualityPolicyOut)
def set_quality_policy(
    process_id: uuid.UUID, body: QualityPolicyIn, ctx: Managing
) -> QualityPolicyOut:
    """Takes effect for the next submitted item. Agents' standings are kept."""
    process = policy.set_policy(
        ctx,
        process_id,
        mode=body.mode,
        aoql=body.aoql,
        min_accuracy=body.min_accuracy,
        gold_rate=body.gold_rate,
    )
    return QualityPolicyOut.of(process)


# -- the review desk -----------------------------------------------------------------------


class WaitingOut(BaseModel):
    item_id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    kind: str
    agent_id: uuid.UUID | None
    requested_at: datetime
    due_at: datetime


class ReviewCaseOut(WaitingOut):
    payload: dict[str, Any]
    result: dict[str, Any] | None
    criteria: list[str] = Field(description="What to mark: the form's fields or a scorecard")
    error_categories: list[str]


class FailureIn(BaseModel):
    name: str = Field(description="A form field, or a scorecard criterion for conversations")
    category: str = Field(description=f"One of {', '.join(ERROR_CATEGORIES)}")


class ReviewIn(BaseModel):
    failures: list[FailureIn] = Field(
        default_factory=list, description="What failed; everything else passed"
    )
    verdict: Literal["deliver", "correct", "rework"]
    corrected: dict[str, Any] | None = Field(default=None, description="For 'correct'")
    rework_to: Literal["same", "other"] | None = Field(default=None, description="For 'rework'")
    reason: str | None = Field(default=None, max_length=2000)


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    work_item_id: uuid.UUID
    process_id: uuid.UUID
    agent_id: uuid.UUID | None
    reviewer: str
    kind: str
    defect: bool
    verdict: str
    rework_to: str | None
    checks: list[dict[str, Any]]
    reason: str | None
    at: datetime


def _waiting_out(request: Any, item: WorkItem) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "client_id": item.client_id,
        "process_id": item.process_id,
        "kind": request.kind,
        "agent_id": request.agent_id,
        "requested_at": request.requested_at,
        "due_at": item.due_at,
    }


@router.get(
    "/quality/reviews",
    response_model=list[WaitingOut],
    responses=paged_responses("items waiting"),
)
def review_queue(
    ctx: Reviewing,
    request: Request,
    response: Response,
    window: Paging,
    process_id: uuid.UUID | None = None,
    kind: Annotated[
        Literal["review", "adjudication"] | None,
        Query(description="reviews, or double-entry conflicts to adjudicate; both if not given"),
    ] = None,
) -> list[WaitingOut]:
    """Items waiting for review or adjudication, earliest due first; never your own work."""
    adjudication = None if kind is None else kind == "adjudication"
    page = reviews.review_queue(
        ctx, process_id=process_id, adjudication=adjudication, window=window
    )
    return [
        WaitingOut(**_waiting_out(waiting, item))
        for waiting, item in paged(request, response, page, window)
    ]


@router.get("/quality/reviews/{item_id}", response_model=ReviewCaseOut)
def review_case(item_id: uuid.UUID, ctx: Reviewing) -> ReviewCaseOut:
    case = reviews.review_case(ctx, item_id)
    return ReviewCaseOut(
        **_waiting_out(case.request, case.item),
        payload=staff_view(ctx.session, ctx.keyring, case.item, agent=False),
        result=case.item.result,
        criteria=list(case.policy.criteria),
        error_categories=list(ERROR_CATEGORIES),
    )


@router.post("/quality/reviews/{item_id}", response_model=ReviewOut)
def review_item(item_id: uuid.UUID, body: ReviewIn, ctx: Reviewing, services: Services) -> Review:
    return reviews.review(
        ctx,
        item_id,
        failures=[reviews.Failure(f.name, f.category) for f in body.failures],
        verdict=body.verdict,
        corrected=body.corrected,
        rework_to=body.rework_to,
        reason=body.reason,
        lease=services.dispatcher.lease,
    )


class ReviewRevealIn(BaseModel):
    of: reveals.Part = Field(
        default="payload",
        description="The item's payload (its source), its result (in review), or a keying "
        "of a double-entry disagreement (in adjudication)",
    )
    fields: list[str] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=5, max_length=500, description="Why the check needs it")


@router.post("/quality/reviews/{item_id}/reveal", response_model=dict[str, Any])
def reveal_in_review(
    item_id: uuid.UUID, body: ReviewRevealIn, ctx: RevealingInReview
) -> dict[str, Any]:
    """The clear values of personal fields of an item waiting for your review or
    adjudication, for a stated reason; the reveal is written to the audit trail."""
    return reveals.reveal_for_review(ctx, item_id, body.of, body.fields, body.reason)


class KeyingOut(BaseModel):
    number: int
    agent_id: uuid.UUID
    values: dict[str, Any]


class AdjudicationOut(BaseModel):
    item_id: uuid.UUID
    process_id: uuid.UUID
    payload: dict[str, Any]
    keyings: list[KeyingOut]
    disagreements: list[str]
    masked: list[str] = Field(
        description="The result form's personal fields: the keyings show them masked; "
        'settle them with {"take": "a"} or {"take": "b"}, or reveal them with a reason'
    )


class AdjudicationIn(BaseModel):
    values: dict[str, Any] = Field(
        description="The right result, delivered as it is. A field's value may be a choice "
        'instead: {"take": "a"} takes keying 1\'s value, {"take": "b"} keying 2\'s, in '
        "clear on the server (a personal field is settled without being seen or retyped)"
    )


@router.get("/quality/adjudications/{item_id}", response_model=AdjudicationOut)
def get_adjudication(item_id: uuid.UUID, ctx: Reviewing) -> AdjudicationOut:
    """Both keyings side by side; only for someone who keyed neither."""
    case = double_entry.adjudication(ctx, item_id)
    return AdjudicationOut(
        item_id=case.item.id,
        process_id=case.item.process_id,
        payload=staff_view(ctx.session, ctx.keyring, case.item, agent=False),
        keyings=[
            KeyingOut(number=k.number, agent_id=k.agent_id, values=k.values) for k in case.keyings
        ],
        disagreements=case.disagreements,
        masked=sorted(result_personal(ctx.session, case.item.client_id, case.item.process_id)),
    )


@router.post("/quality/adjudications/{item_id}", response_model=WorkItemOut)
def adjudicate(item_id: uuid.UUID, body: AdjudicationIn, ctx: Reviewing) -> WorkItemOut:
    return shown(ctx, double_entry.adjudicate(ctx, item_id, body.values))


# -- the client's acceptance ---------------------------------------------------------------


class RejectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    fields: list[str] = Field(default_factory=list, description="The fields found wrong")


@router.post("/work-items/{item_id}/reject", response_model=WorkItemOut)
def reject_delivered(
    item_id: uuid.UUID, body: RejectionIn, ctx: Rejecting, services: Services
) -> WorkItemOut:
    """Send a delivered result back to be redone: it counts as an escaped defect. The redo
    is due the process's rework target from now (its SLA target when it sets none); the
    first delivery counts in the SLA attainment as it was."""
    item = rejection.reject_delivered(
        ctx,
        item_id,
        reason=body.reason,
        fields=body.fields,
        at_risk_fraction=services.settings.at_risk_fraction,
    )
    return shown(ctx, item)


# -- gold items ----------------------------------------------------------------------------


class GoldItemIn(BaseModel):
    process_id: uuid.UUID
    payload: dict[str, Any] | None = Field(
        default=None,
        description="What the agent sees: the process's input form. Required unless "
        "from_item_id is given, whose input it then defaults to",
    )
    answer: dict[str, Any] | None = Field(
        default=None,
        description="The right result: the process's result form. Required unless "
        "from_item_id is given, whose delivered result it then defaults to",
    )
    from_item_id: uuid.UUID | None = Field(
        default=None,
        description="A delivered item of the process whose document the gold item carries "
        "(each copy gets it, sealed again): required where the process's items come with "
        "documents, so that no copy is told apart by the document it lacks",
    )


class GoldItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    payload: dict[str, Any] = Field(description="As stored: personal fields masked")
    answer: dict[str, Any]
    active: bool
    created_at: datetime


@router.post("/quality/gold-items", response_model=GoldItemOut, status_code=201)
def add_gold_item(body: GoldItemIn, ctx: Managing) -> Any:
    """A known-answer item, copied into the process's queue unannounced. Made from a
    delivered item (`from_item_id`), it carries that item's document, and takes its id."""
    return gold_documents.add_gold_item(
        ctx, body.process_id, body.payload, body.answer, from_item=body.from_item_id
    )


class GoldScoreOut(BaseModel):
    work_item_id: uuid.UUID = Field(description="The gold copy")
    agent_id: uuid.UUID | None = Field(description="Who keyed it; for those who see agents")
    agent_name: str | None
    scored_at: datetime
    right: bool
    wrong_fields: list[str] = Field(description="The result form's fields keyed wrong")


class GoldItemListedOut(GoldItemOut):
    added_by: str | None = Field(description="Who added it, by name, where it was recorded")
    copies: int = Field(description="Copies slipped into the queue")
    right: int = Field(description="Copies scored right")
    wrong: int = Field(description="Copies scored with a field wrong")
    unscored: int = Field(description="Copies not scored: still queued or held, or taken out")
    scores: list[GoldScoreOut] = Field(
        description=f"The latest {gold.SCORES_SHOWN} copies scored, latest first"
    )


@router.get(
    "/quality/gold-items",
    response_model=list[GoldItemListedOut],
    responses=paged_responses("gold items"),
)
def list_gold_items(
    process_id: uuid.UUID,
    ctx: Managing,
    request: Request,
    response: Response,
    window: Paging,
    active: Annotated[bool | None, Query(description="in use (true) or retired (false)")] = None,
) -> list[GoldItemListedOut]:
    """A process's gold items, the latest added first: payload and answer masked as
    reviewers see them, their copies and how agents scored on them."""
    _, found = gold.gold_items(ctx, process_id, active=active, window=window)
    views = paged(request, response, found, window)
    agents = overview.agent_names(
        ctx, {s.agent_id for v in views for s in v.scores if s.agent_id is not None}
    )
    who = overview.actor_names(ctx.session, [v.added_by for v in views])
    return [
        GoldItemListedOut(
            id=v.id,
            client_id=v.client_id,
            process_id=v.process_id,
            payload=v.payload,
            answer=v.answer,
            active=v.active,
            created_at=v.created_at,
            added_by=who.get(v.added_by or ""),
            copies=v.copies,
            right=v.right,
            wrong=v.wrong,
            unscored=v.unscored,
            scores=[
                GoldScoreOut(
                    work_item_id=s.work_item_id,
                    agent_id=s.agent_id,
                    agent_name=None if s.agent_id is None else agents.get(s.agent_id),
                    scored_at=s.at,
                    right=s.right,
                    wrong_fields=list(s.wrong_fields),
                )
                for s in v.scores
            ],
        )
        for v in views
    ]


class GoldItemChange(BaseModel):
    active: bool = Field(
        description="false retires it: no more copies are made (those queued are still "
        "scored); true uses it again"
    )


@router.patch("/quality/gold-items/{gold_id}", response_model=GoldItemOut)
def change_gold_item(gold_id: uuid.UUID, body: GoldItemChange, ctx: Managing) -> Any:
    """Retire a gold item, or use it again; audited."""
    return gold.set_active(ctx, gold_id, body.active)


# -- measures ------------------------------------------------------------------------------


class RateOut(BaseModel):
    checked: int
    correct: int
    accuracy: float | None
    low: float = Field(description="95 % Wilson interval")
    high: float


class AccuracyOut(BaseModel):
    group: str
    period: date | None
    fields: RateOut
    items: RateOut | None


def _rate(rate: Rate) -> RateOut:
    return RateOut(
        checked=rate.checked,
        correct=rate.correct,
        accuracy=rate.value,
        low=round(rate.low, 6),
        high=round(rate.high, 6),
    )


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once in UTC") from None


# A moment with its offset (a naive one would be a guess), that exists in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


@router.get(
    "/quality/accuracy", response_model=list[AccuracyOut], responses=paged_responses("rows")
)
def accuracy(
    ctx: Reading,
    request: Request,
    response: Response,
    window: Paging,
    by: Annotated[Literal["client", "process", "agent", "field"], Query()] = "process",
    interval: Annotated[Literal["none", "day", "week", "month"], Query()] = "none",
    process_id: uuid.UUID | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> list[AccuracyOut]:
    """Field and item accuracy with 95 % intervals, over the last 30 days unless told.
    Per agent only for provider staff who may see agents' quality."""
    rows = report.accuracy(
        ctx, by=by, since=since, until=until, interval=interval, process_id=process_id
    )
    return [
        AccuracyOut(
            group=row.group,
            period=row.period,
            fields=_rate(row.fields),
            items=None if row.items is None else _rate(row.items),
        )
        for row in paged(request, response, paging.cut(rows, window), window)
    ]


class ProcessQualityOut(BaseModel):
    process_id: uuid.UUID
    code: str
    mode: str
    target_accuracy: float
    delivered: int
    submitted: int
    reviewed: int
    review_fraction: float | None
    defects_found: int
    sent_back: int
    estimated_escapes: float
    estimated_accuracy: float | None
    rejected_by_client: int
    observed_accuracy: float | None
    meets_target: bool | None


@router.get(
    "/quality/report",
    response_model=list[ProcessQualityOut],
    responses=paged_responses("processes"),
)
def quality_report(
    ctx: Reading,
    request: Request,
    response: Response,
    window: Paging,
    since: Instant | None = None,
    until: Instant | None = None,
) -> list[ProcessQualityOut]:
    """Per process: estimated outgoing accuracy against the target, review effort, and the
    client's rejections; over the last 30 days unless told."""
    rows = paging.cut(report.report(ctx, since=since, until=until), window)
    return [
        ProcessQualityOut.model_validate(row, from_attributes=True)
        for row in paged(request, response, rows, window)
    ]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    agent_id: uuid.UUID
    accuracy: float
    low: float
    high: float
    threshold: float
    reviewed: int
    at: datetime


@router.get("/quality/alerts", response_model=list[AlertOut], responses=paged_responses("alerts"))
def alerts(
    ctx: ReadingAgents,
    request: Request,
    response: Response,
    window: Paging,
    process_id: uuid.UUID | None = None,
) -> Any:
    """Agents fallen below a process's accuracy threshold, not yet acknowledged, the latest
    first."""
    page = report.open_alerts(ctx, process_id=process_id, window=window)
    return paged(request, response, page, window)


@router.post("/quality/alerts/{alert_id}/acknowledge", status_code=204)
def acknowledge_alert(alert_id: uuid.UUID, ctx: ReadingAgents) -> None:
    standing.acknowledge_alert(ctx, alert_id)


# -- agents' standing (CSP-1) ----------------------------------------------------------------


class AgentStandingOut(BaseModel):
    agent_id: uuid.UUID
    agent_name: str | None
    phase: Literal["screening", "sampling"] = Field(
        description="screening: every item reviewed until `clearance` pass in a row; "
        "sampling: a random `fraction` of items reviewed"
    )
    below_threshold: bool = Field(description="Screened until their accuracy recovers")
    passes_in_a_row: int = Field(description="Of the screening run under way")
    clearance: int
    fraction: float
    reviewed: int = Field(description="Reviews of their work on the process, ever")
    defects: int
    recent_checked: int = Field(description="Their latest reviews, as the threshold counts")
    recent_failed: int
    accuracy: float | None = Field(description="Items without an error among the latest")
    low: float = Field(description="95 % Wilson interval")
    high: float
    open_alerts: int
    updated_at: datetime


class StandingOut(BaseModel):
    process_id: uuid.UUID
    mode: str = Field(description="The process's QA mode: phases apply under sampling")
    min_accuracy: float
    window: int = Field(description="How many of an agent's latest reviews the threshold counts")
    agents: list[AgentStandingOut]


@router.get("/quality/standing", response_model=StandingOut, responses=paged_responses("agents"))
def agents_standing(
    process_id: uuid.UUID,
    ctx: ReadingAgents,
    request: Request,
    response: Response,
    window: Paging,
    phase: Annotated[
        standing.Phase | None,
        Query(description="only agents screened, sampled, or below the accuracy threshold"),
    ] = None,
) -> StandingOut:
    """Each agent's CSP-1 standing on a process, a page of agents at a time (those below the
    threshold first, then those screened): phase, run, recent accuracy against the
    process's threshold, open alerts. Provider staff only."""
    process, page = standing.standings(ctx, process_id, phase=phase, window=window)
    found = paged(request, response, page, window)
    names = overview.agent_names(ctx, {s.agent_id for s in found})
    return StandingOut(
        process_id=process.id,
        mode=process.qa_mode,
        min_accuracy=process.qa_min_accuracy,
        window=standing.THRESHOLD_WINDOW,
        agents=[
            AgentStandingOut(
                agent_id=s.agent_id,
                agent_name=names.get(s.agent_id),
                phase="screening" if s.screening else "sampling",
                below_threshold=s.below_threshold,
                passes_in_a_row=s.passes_in_a_row,
                clearance=s.clearance,
                fraction=s.fraction,
                reviewed=s.reviewed,
                defects=s.defects,
                recent_checked=s.recent.checked,
                recent_failed=s.recent.checked - s.recent.correct,
                accuracy=s.recent.value,
                low=round(s.recent.low, 6),
                high=round(s.recent.high, 6),
                open_alerts=s.open_alerts,
                updated_at=s.updated_at,
            )
            for s in found
        ],
    )
