"""Rulesets (upload, download, test, publish, backtest, measures) and analysts' decisions."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field

from tandem.core import paging
from tandem.core.errors import InvalidInput
from tandem.decisions import backtesting, deciding, excel, measures, referrals, rulesets
from tandem.decisions.models import Decision, Ruleset
from tandem.http import MAX_INT, Paging, Services, paged, paged_responses, uses
from tandem.privacy.service import staff_view
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["decisions"])

Reading = Annotated[Context, uses(Permission.RULESET_READ)]
Managing = Annotated[Context, uses(Permission.RULESET_MANAGE)]
Judging = Annotated[Context, uses(Permission.DECISION_JUDGE)]
ReadingItems = Annotated[Context, uses(Permission.WORK_ITEM_READ)]
ManagingItems = Annotated[Context, uses(Permission.WORK_ITEM_MANAGE)]


class OutcomeMapping(BaseModel):
    """How a graph's result reads as an outcome, for rules that do not end in Tandem's words:
    zen expressions over the result, and the result's paths delivered with the outcome."""

    model_config = {"extra": "forbid"}

    outcome: str = Field(
        min_length=1,
        description="approve, decline or refer, e.g. "
        "`underwriting.needsManualReview ? 'refer' : 'approve'`",
    )
    reasons: str | None = Field(
        default=None, description="a list of codes or one, e.g. `[underwriting.referralReason]`"
    )
    recommendation: str | None = Field(
        default=None, description="on a referral, approve or decline"
    )
    deliver: list[str] = Field(
        default_factory=list, description="paths of the result delivered with the outcome"
    )


class ReasonIn(BaseModel):
    """What people read instead of a reason code."""

    model_config = {"extra": "forbid"}

    label: str = Field(min_length=1, max_length=120, description="e.g. `Lives abroad`")
    description: str | None = Field(
        default=None,
        max_length=1000,
        description="what the reason means, e.g. `The applicant lives outside the US`",
    )


class RulesetIn(BaseModel):
    graph: dict[str, Any] = Field(description="The JDM decision graph (GoRules JSON)")
    four_eyes: dict[str, Any] = Field(
        default_factory=dict,
        description='e.g. {"declines": true, "amount_field": "coverage_amount", "above": 500000}',
    )
    mapping: OutcomeMapping | None = Field(
        default=None,
        description="How the result reads as an outcome; none: its own `outcome` and `reasons`",
    )
    note: str | None = Field(default=None, max_length=500)
    reasons: dict[str, ReasonIn] | None = Field(
        default=None,
        description="The version's reasons catalogue: each reason code its rules give, with a "
        'label and a description, e.g. {"RESIDES_ABROAD": {"label": "Lives abroad"}}',
    )


class DraftFormIn(BaseModel):
    graph: dict[str, Any] = Field(description="The JDM decision graph (GoRules JSON)")


class RulesetOut(BaseModel):
    id: uuid.UUID
    process_id: uuid.UUID
    version: int
    status: str
    four_eyes: dict[str, Any]
    mapping: dict[str, Any] | None
    reasons: dict[str, Any] | None
    note: str | None
    created_at: datetime
    created_by: str | None
    published_at: datetime | None
    published_by: str | None
    retired_at: datetime | None

    @classmethod
    def of(cls, ruleset: Ruleset) -> RulesetOut:
        return cls.model_validate(ruleset, from_attributes=True)


class TestIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expected: dict[str, Any]


class TestCopyIn(BaseModel):
    version: int = Field(ge=1, le=MAX_INT, description="The version whose test cases to copy")


class TestRunOut(BaseModel):
    name: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]


class DecisionOut(BaseModel):
    id: uuid.UUID
    by: str
    outcome: str
    reasons: list[str]
    ruleset_version: int | None
    recommended: str | None
    override: bool
    actor: str
    notes: str | None
    at: datetime

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls.model_validate(decision, from_attributes=True)


class ReferralOut(BaseModel):
    item_id: uuid.UUID
    decision: DecisionOut | None
    trace: list[dict[str, Any]]
    history: list[DecisionOut]


class JudgmentIn(BaseModel):
    attempt: int = Field(ge=1, le=MAX_INT)
    outcome: str = Field(description="approve or decline")
    reason: str = Field(min_length=2, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)


class JudgmentOut(BaseModel):
    item_id: uuid.UUID
    state: str
    override: bool


class ConfirmationOut(BaseModel):
    item_id: uuid.UUID
    process_id: uuid.UUID
    due_at: datetime
    payload: dict[str, Any]
    judgment: DecisionOut


class ConfirmationIn(BaseModel):
    agree: bool
    notes: str | None = Field(default=None, max_length=2000)


class EvaluationIn(BaseModel):
    ruleset_id: uuid.UUID | None = Field(
        default=None, description="A version to evaluate with; the published one if omitted"
    )


class EvaluationOut(BaseModel):
    decision: DecisionOut
    state: str


class BacktestIn(BaseModel):
    limit: int = Field(default=100_000, ge=1, le=1_000_000)


@router.post("/processes/{process_id}/rulesets", response_model=RulesetOut, status_code=201)
def upload_ruleset(process_id: uuid.UUID, body: RulesetIn, ctx: Managing) -> RulesetOut:
    """A new draft version from a JDM graph, checked before it is stored."""
    mapping = body.mapping.model_dump(exclude_none=True) if body.mapping else None
    reasons = (
        {code: reason.model_dump(exclude_none=True) for code, reason in body.reasons.items()}
        if body.reasons
        else None
    )
    ruleset = rulesets.create_version(
        ctx,
        process_id,
        body.graph,
        four_eyes=body.four_eyes,
        mapping=mapping,
        note=body.note,
        reasons=reasons,
    )
    return RulesetOut.of(ruleset)


@router.post("/rulesets/draft-form")
def draft_form(body: DraftFormIn, ctx: Managing) -> dict[str, Any]:
    """A decision process's input form drafted from a graph a client already has: its input
    node's schema, or the fields it reads, typed by how it compares them. Edit it, then
    define the process with it."""
    return {"input_schema": rulesets.draft_form(body.graph)}


@router.post("/processes/{process_id}/rulesets/xlsx", response_model=RulesetOut, status_code=201)
def import_ruleset(
    process_id: uuid.UUID,
    ctx: Managing,
    file: Annotated[UploadFile, File(description="One rule per row: input and output columns")],
    hit_policy: Annotated[str, Form()] = "first",
    note: Annotated[str | None, Form(max_length=500, description="the file's name if none")] = None,
    four_eyes: Annotated[
        str | None, Form(description='The four-eyes rule as JSON, e.g. {"declines": true}')
    ] = None,
    reasons: Annotated[
        str | None,
        Form(description="The reasons catalogue as JSON, if the workbook has no sheet Reasons"),
    ] = None,
) -> RulesetOut:
    """A new draft version from a decision table kept in a spreadsheet (see the README), with
    its reasons catalogue from the workbook's sheet `Reasons` if it has one."""
    graph, catalogue = excel.read_rules(file.file, hit_policy=hit_policy)
    ruleset = rulesets.create_version(
        ctx,
        process_id,
        graph,
        four_eyes=_json_object(four_eyes, "four_eyes"),
        note=note or file.filename,
        reasons=catalogue if catalogue is not None else _json_object(reasons, "reasons"),
    )
    return RulesetOut.of(ruleset)


def _json_object(text: str | None, name: str) -> dict[str, Any] | None:
    """A form field holding a JSON object, or nothing."""
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{name} is not JSON", errors=[{"field": name, "message": f"not JSON: {exc}"}]
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{name} is not an object", errors=[{"field": name, "message": "give a JSON object"}]
        )
    return value


@router.get(
    "/processes/{process_id}/rulesets",
    response_model=list[RulesetOut],
    responses=paged_responses("versions"),
)
def list_rulesets(
    process_id: uuid.UUID, ctx: Reading, request: Request, response: Response, window: Paging
) -> list[RulesetOut]:
    versions = paging.cut(rulesets.list_versions(ctx, process_id), window)
    return [RulesetOut.of(r) for r in paged(request, response, versions, window)]


@router.get("/rulesets/{ruleset_id}", response_model=RulesetOut)
def get_ruleset(ruleset_id: uuid.UUID, ctx: Reading) -> RulesetOut:
    return RulesetOut.of(rulesets.get_ruleset(ctx, ruleset_id))


@router.get("/rulesets/{ruleset_id}/graph")
def download_graph(ruleset_id: uuid.UUID, ctx: Reading) -> dict[str, Any]:
    """The version's JDM graph, as uploaded (editable in GoRules' JDM editor)."""
    return rulesets.get_ruleset(ctx, ruleset_id).graph


@router.post("/rulesets/{ruleset_id}/tests", response_model=TestIn, status_code=201)
def add_test(ruleset_id: uuid.UUID, body: TestIn, ctx: Managing) -> TestIn:
    rulesets.add_test(ctx, ruleset_id, name=body.name, data=body.input, expected=body.expected)
    return body


@router.post("/rulesets/{ruleset_id}/tests/copy", response_model=list[TestIn], status_code=201)
def copy_tests(ruleset_id: uuid.UUID, body: TestCopyIn, ctx: Managing) -> list[TestIn]:
    """Another version's test cases (by its number) added to this draft, but those named as
    one it has: a new version is tested as the one before it was."""
    copied = rulesets.copy_tests(ctx, ruleset_id, body.version)
    return [TestIn(name=t.name, input=t.input, expected=t.expected) for t in copied]


@router.get("/rulesets/{ruleset_id}/tests/run", response_model=list[TestRunOut])
def run_tests(ruleset_id: uuid.UUID, ctx: Reading) -> list[TestRunOut]:
    runs = rulesets.run_tests(ctx, ruleset_id)
    return [TestRunOut.model_validate(run, from_attributes=True) for run in runs]


@router.post("/rulesets/{ruleset_id}/publish", response_model=RulesetOut)
def publish(ruleset_id: uuid.UUID, ctx: Managing) -> RulesetOut:
    """Publish a draft whose test cases all pass (409 naming the failing ones otherwise)."""
    return RulesetOut.of(rulesets.publish(ctx, ruleset_id))


@router.post("/rulesets/{ruleset_id}/backtest")
def backtest(ruleset_id: uuid.UUID, body: BacktestIn, ctx: Managing) -> dict[str, Any]:
    """How outcomes would change on past items: against the published version and against
    what analysts decided, overall and per reason code."""
    return backtesting.backtest(ctx, ruleset_id, limit=body.limit).as_dict()


@router.get("/processes/{process_id}/decision-measures")
def decision_measures(process_id: uuid.UUID, ctx: Reading) -> dict[str, Any]:
    """Straight-through rate, referral reasons, override rate per rule and version."""
    found = measures.measures(ctx, process_id)
    return {**found.__dict__, "stp_rate": found.stp_rate, "override_rate": found.override_rate}


def _referral(ctx: Context, item_id: uuid.UUID) -> ReferralOut:
    """The item's decisions and the rules' trace, its personal values shown as the reader
    sees the item's payload (masked for provider staff; tandem.decisions.referrals.explain)."""
    record = referrals.decision_record(ctx, item_id)
    decision = record.referral.decision
    return ReferralOut(
        item_id=record.item.id,
        decision=DecisionOut.of(decision) if decision else None,
        trace=record.referral.trace,
        history=[DecisionOut.of(d) for d in record.history],
    )


@router.get("/leases/{item_id}/referral", response_model=ReferralOut)
def referral_for_analyst(item_id: uuid.UUID, ctx: Judging) -> ReferralOut:
    """Why the rules referred the item leased to you: reasons and the rule trace."""
    return _referral(ctx, item_id)


@router.get("/work-items/{item_id}/decisions", response_model=ReferralOut)
def item_decisions(item_id: uuid.UUID, ctx: ReadingItems) -> ReferralOut:
    """Every decision on an item (rules, analysts, confirmations) and the rules' trace."""
    return _referral(ctx, item_id)


@router.post("/leases/{item_id}/judgment", response_model=JudgmentOut)
def judge(item_id: uuid.UUID, body: JudgmentIn, ctx: Judging, services: Services) -> JudgmentOut:
    """An analyst decides a referral; it is delivered, or waits for a second analyst when
    the four-eyes rule applies."""
    decision, state = referrals.judge(
        ctx,
        services.dispatcher,
        item_id,
        body.attempt,
        outcome=body.outcome,
        reason=body.reason,
        notes=body.notes,
    )
    return JudgmentOut(item_id=item_id, state=state.value, override=decision.override)


@router.get(
    "/decisions/confirmations",
    response_model=list[ConfirmationOut],
    responses=paged_responses("judgments"),
)
def confirmations(
    ctx: Judging, services: Services, request: Request, response: Response, window: Paging
) -> list[ConfirmationOut]:
    """Judgments waiting for a second analyst, in the queues you may serve (not your own),
    with the application and the first analyst's judgment."""
    waiting = paging.cut(referrals.pending_confirmations(ctx, services.dispatcher), window)
    return [
        ConfirmationOut(
            item_id=item.id,
            process_id=item.process_id,
            due_at=item.due_at,
            payload=staff_view(ctx.session, ctx.keyring, item, agent=True),
            judgment=DecisionOut.of(judgment),
        )
        for item, judgment in paged(request, response, waiting, window)
    ]


@router.post("/decisions/confirmations/{item_id}", response_model=DecisionOut)
def confirm(
    item_id: uuid.UUID, body: ConfirmationIn, ctx: Judging, services: Services
) -> DecisionOut:
    decision = referrals.confirm(
        ctx, services.dispatcher, item_id, agree=body.agree, notes=body.notes
    )
    return DecisionOut.of(decision)


@router.post("/work-items/{item_id}/evaluation", response_model=EvaluationOut)
def evaluate_item(item_id: uuid.UUID, body: EvaluationIn, ctx: ManagingItems) -> EvaluationOut:
    """Evaluate an item waiting for a decision now (e.g. after new rules were published):
    delivered if the rules decide it, still queued for analysts if they refer it."""
    decision, state = deciding.evaluate_item(ctx, item_id, ruleset_id=body.ruleset_id)
    return EvaluationOut(decision=DecisionOut.of(decision), state=state.value)
