"""Quality control's routes: QA policies, the review desk, double-entry adjudication, gold
items, the client's rejection of a delivery, accuracy, the report and alerts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from tandem.api.work import shown_as
from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.db import transaction
from tandem.core.errors import Forbidden, NotFound
from tandem.http import Services, requires
from tandem.privacy.service import staff_view
from tandem.quality import gold, report, service
from tandem.quality.accuracy import Rate
from tandem.quality.models import ERROR_CATEGORIES, QualityAlert, Review
from tandem.quality.sampling import choose_plan
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.models import WorkItem
from tandem.work.schemas import WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["quality"])

ProcessReader = Annotated[Principal, Depends(requires(Permission.PROCESS_READ))]
Manager = Annotated[Principal, Depends(requires(Permission.QUALITY_MANAGE))]
Reviewer = Annotated[Principal, Depends(requires(Permission.QUALITY_REVIEW))]
Reader = Annotated[Principal, Depends(requires(Permission.QUALITY_READ))]
AgentReader = Annotated[Principal, Depends(requires(Permission.AGENT_QUALITY_READ))]
Rejecter = Annotated[Principal, Depends(requires(Permission.RESULT_REJECT))]

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
    # The CSP-1 plan a new agent's work clears into once screened, at the AOQL target.
    example_plan: dict[str, float] | None

    @classmethod
    def of(cls, process: Process) -> QualityPolicyOut:
        plan = choose_plan(process.qa_aoql, 0.01) if process.qa_mode == "sampling" else None
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
                "review_fraction_at_1_percent": plan.review_fraction,
            },
        )


@router.get("/processes/{process_id}/quality-policy", response_model=QualityPolicyOut)
def get_quality_policy(
    process_id: uuid.UUID, principal: ProcessReader, services: Services
) -> QualityPolicyOut:
    with transaction(services.sessions) as session:
        return QualityPolicyOut.of(get_process(session, principal, process_id))


@router.put("/processes/{process_id}/quality-policy", response_model=QualityPolicyOut)
def set_quality_policy(
    process_id: uuid.UUID, body: QualityPolicyIn, principal: Manager, services: Services
) -> QualityPolicyOut:
    """Takes effect for the next submitted item. Agents' standings are kept."""
    with transaction(services.sessions) as session:
        process = get_process(session, principal, process_id)
        process.qa_mode = body.mode
        process.qa_aoql = body.aoql
        process.qa_min_accuracy = body.min_accuracy
        process.qa_gold_rate = body.gold_rate
        session.flush()
        audit.record(
            session,
            services.audit_key,
            client_id=process.client_id,
            actor=principal.actor,
            action="quality_policy.set",
            subject=f"process:{process.id}",
            data=body.model_dump(),
            now=services.clock.now(),
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


@router.get("/quality/reviews", response_model=list[WaitingOut])
def review_queue(principal: Reviewer, services: Services) -> list[WaitingOut]:
    """Items waiting for review or adjudication, earliest due first; never your own work."""
    with transaction(services.sessions) as session:
        return [
            WaitingOut(**_waiting_out(request, item))
            for request, item in service.review_queue(session, principal)
        ]


@router.get("/quality/reviews/{item_id}", response_model=ReviewCaseOut)
def review_case(item_id: uuid.UUID, principal: Reviewer, services: Services) -> ReviewCaseOut:
    with transaction(services.sessions) as session:
        request, item = service.waiting(session, principal, item_id)
        policy = service.policy_of(session, item.client_id, item.process_id)
        return ReviewCaseOut(
            **_waiting_out(request, item),
            payload=staff_view(session, services.keyring, item, agent=False),
            result=item.result,
            criteria=list(policy.criteria),
            error_categories=list(ERROR_CATEGORIES),
        )


@router.post("/quality/reviews/{item_id}", response_model=ReviewOut)
def review_item(
    item_id: uuid.UUID, body: ReviewIn, principal: Reviewer, services: Services
) -> Review:
    with transaction(services.sessions) as session:
        return service.review(
            session,
            principal,
            item_id,
            failures=[service.Failure(f.name, f.category) for f in body.failures],
            verdict=body.verdict,
            corrected=body.corrected,
            rework_to=body.rework_to,
            reason=body.reason,
            now=services.clock.now(),
            lease=services.dispatcher.lease,
            keyring=services.keyring,
        )


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


class AdjudicationIn(BaseModel):
    values: dict[str, Any] = Field(description="The right result, delivered as it is")


@router.get("/quality/adjudications/{item_id}", response_model=AdjudicationOut)
def get_adjudication(
    item_id: uuid.UUID, principal: Reviewer, services: Services
) -> AdjudicationOut:
    """Both keyings side by side; only for someone who keyed neither."""
    with transaction(services.sessions) as session:
        case = service.adjudication(session, principal, item_id, services.keyring)
        return AdjudicationOut(
            item_id=case.item.id,
            process_id=case.item.process_id,
            payload=staff_view(session, services.keyring, case.item, agent=False),
            keyings=[
                KeyingOut(number=k.number, agent_id=k.agent_id, values=k.values)
                for k in case.keyings
            ],
            disagreements=case.disagreements,
        )


@router.post("/quality/adjudications/{item_id}", response_model=WorkItemOut)
def adjudicate(
    item_id: uuid.UUID, body: AdjudicationIn, principal: Reviewer, services: Services
) -> WorkItemOut:
    with transaction(services.sessions) as session:
        item = service.adjudicate(
            session,
            principal,
            item_id,
            body.values,
            now=services.clock.now(),
            keyring=services.keyring,
        )
        return shown_as(session, services.keyring, principal, item)


# -- the client's acceptance ---------------------------------------------------------------


class RejectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    fields: list[str] = Field(default_factory=list, description="The fields found wrong")


@router.post("/work-items/{item_id}/reject", response_model=WorkItemOut)
def reject_delivered(
    item_id: uuid.UUID, body: RejectionIn, principal: Rejecter, services: Services
) -> WorkItemOut:
    """Send a delivered result back to be redone: it counts as an escaped defect."""
    with transaction(services.sessions) as session:
        item = service.reject_delivered(
            session,
            principal,
            item_id,
            reason=body.reason,
            fields=body.fields,
            now=services.clock.now(),
        )
        audit.record(
            session,
            services.audit_key,
            client_id=item.client_id,
            actor=principal.actor,
            action="work_item.reject",
            subject=f"work_item:{item.id}",
            data={"reason": body.reason, "fields": body.fields},
            now=services.clock.now(),
        )
        return shown_as(session, services.keyring, principal, item)


# -- gold items ----------------------------------------------------------------------------


class GoldItemIn(BaseModel):
    process_id: uuid.UUID
    payload: dict[str, Any] = Field(description="What the agent sees: the process's input form")
    answer: dict[str, Any] = Field(description="The right result: the process's result form")


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
def add_gold_item(body: GoldItemIn, principal: Manager, services: Services) -> Any:
    with transaction(services.sessions) as session:
        return gold.add_gold_item(
            session,
            principal,
            body.process_id,
            body.payload,
            body.answer,
            now=services.clock.now(),
            keyring=services.keyring,
        )


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
EARLIEST = datetime.min.replace(tzinfo=UTC)


def _window(
    since: datetime | None, until: datetime | None, services: Any
) -> tuple[datetime, datetime]:
    until = until or services.clock.now() + timedelta(seconds=1)
    month = timedelta(days=30)
    return since or max(until, EARLIEST + month) - month, until


@router.get("/quality/accuracy", response_model=list[AccuracyOut])
def accuracy(
    principal: Reader,
    services: Services,
    by: Annotated[Literal["client", "process", "agent", "field"], Query()] = "process",
    interval: Annotated[Literal["none", "day", "week", "month"], Query()] = "none",
    process_id: uuid.UUID | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> list[AccuracyOut]:
    """Field and item accuracy with 95 % intervals, over the last 30 days unless told.
    Per agent only for provider staff who may see agents' quality."""
    if by == "agent" and Permission.AGENT_QUALITY_READ not in principal.permissions:
        raise Forbidden(f"accuracy per agent needs {Permission.AGENT_QUALITY_READ.value}")
    start, end = _window(since, until, services)
    with transaction(services.sessions) as session:
        rows = report.accuracy(
            session,
            principal,
            by=by,
            since=start,
            until=end,
            interval=interval,
            process_id=process_id,
        )
    return [
        AccuracyOut(
            group=row.group,
            period=row.period,
            fields=_rate(row.fields),
            items=None if row.items is None else _rate(row.items),
        )
        for row in rows
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


@router.get("/quality/report", response_model=list[ProcessQualityOut])
def quality_report(
    principal: Reader,
    services: Services,
    since: Instant | None = None,
    until: Instant | None = None,
) -> list[ProcessQualityOut]:
    """Per process: estimated outgoing accuracy against the target, review effort, and the
    client's rejections; over the last 30 days unless told."""
    start, end = _window(since, until, services)
    with transaction(services.sessions) as session:
        rows = report.report(session, principal, since=start, until=end)
    return [ProcessQualityOut.model_validate(row, from_attributes=True) for row in rows]


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


@router.get("/quality/alerts", response_model=list[AlertOut])
def alerts(principal: AgentReader, services: Services) -> Any:
    """Agents fallen below a process's accuracy threshold, not yet acknowledged."""
    with transaction(services.sessions) as session:
        return report.open_alerts(session, principal)


@router.post("/quality/alerts/{alert_id}/acknowledge", status_code=204)
def acknowledge_alert(alert_id: uuid.UUID, principal: AgentReader, services: Services) -> None:
    with transaction(services.sessions) as session:
        found = session.scalar(
            select(QualityAlert).where(
                QualityAlert.id == alert_id, principal.client_condition(QualityAlert.client_id)
            )
        )
        if found is None:
            raise NotFound(f"alert {alert_id} not found")
        found.acknowledged_by = principal.actor
        found.acknowledged_at = services.clock.now()
