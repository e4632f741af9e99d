"""Rulesets (upload, download, test, publish, backtest, measures) and analysts' decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, Field

from tandem.core.db import transaction
from tandem.decisions import excel, service
from tandem.decisions.models import Decision, Ruleset
from tandem.http import MAX_INT, Services, requires
from tandem.privacy.service import staff_view
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.access import visible_item

router = APIRouter(prefix="/api/v1", tags=["decisions"])

Reader = Annotated[Principal, Depends(requires(Permission.RULESET_READ))]
Manager = Annotated[Principal, Depends(requires(Permission.RULESET_MANAGE))]
Analyst = Annotated[Principal, Depends(requires(Permission.DECISION_JUDGE))]
ItemReader = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_READ))]
ItemManager = Annotated[Principal, Depends(requires(Permission.WORK_ITEM_MANAGE))]


class RulesetIn(BaseModel):
    graph: dict[str, Any] = Field(description="The JDM decision graph (GoRules JSON)")
    four_eyes: dict[str, Any] = Field(
        default_factory=dict,
        description='e.g. {"declines": true, "amount_field": "coverage_amount", "above": 500000}',
    )
    note: str | None = Field(default=None, max_length=500)


class RulesetOut(BaseModel):
    id: uuid.UUID
    process_id: uuid.UUID
    version: int
    status: str
    four_eyes: dict[str, Any]
    note: str | None
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None

    @classmethod
    def of(cls, ruleset: Ruleset) -> RulesetOut:
        return cls.model_validate(ruleset, from_attributes=True)


class TestIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expected: dict[str, Any]


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
def upload_ruleset(
    process_id: uuid.UUID, body: RulesetIn, principal: Manager, services: Services
) -> RulesetOut:
    """A new draft version from a JDM graph, checked before it is stored."""
    with transaction(services.sessions) as session:
        ruleset = service.create_version(
            session,
            principal,
            process_id,
            body.graph,
            now=services.clock.now(),
            four_eyes=body.four_eyes,
            note=body.note,
        )
        return RulesetOut.of(ruleset)


@router.post("/processes/{process_id}/rulesets/xlsx", response_model=RulesetOut, status_code=201)
def import_ruleset(
    process_id: uuid.UUID,
    principal: Manager,
    services: Services,
    file: Annotated[UploadFile, File(description="One rule per row: input and output columns")],
    hit_policy: Annotated[str, Form()] = "first",
) -> RulesetOut:
    """A new draft version from a decision table kept in a spreadsheet (see the README)."""
    graph = excel.read_table(file.file, hit_policy=hit_policy)
    with transaction(services.sessions) as session:
        ruleset = service.create_version(
            session, principal, process_id, graph, now=services.clock.now(), note=file.filename
        )
        return RulesetOut.of(ruleset)


@router.get("/processes/{process_id}/rulesets", response_model=list[RulesetOut])
def list_rulesets(process_id: uuid.UUID, principal: Reader, services: Services) -> list[RulesetOut]:
    with transaction(services.sessions) as session:
        return [RulesetOut.of(r) for r in service.list_versions(session, principal, process_id)]


@router.get("/rulesets/{ruleset_id}", response_model=RulesetOut)
def get_ruleset(ruleset_id: uuid.UUID, principal: Reader, services: Services) -> RulesetOut:
    with transaction(services.sessions) as session:
        return RulesetOut.of(service.get_ruleset(session, principal, ruleset_id))


@router.get("/rulesets/{ruleset_id}/graph")
def download_graph(ruleset_id: uuid.UUID, principal: Reader, services: Services) -> dict[str, Any]:
    """The version's JDM graph, as uploaded (editable in GoRules' JDM editor)."""
    with transaction(services.sessions) as session:
        return service.get_ruleset(session, principal, ruleset_id).graph


@router.post("/rulesets/{ruleset_id}/tests", response_model=TestIn, status_code=201)
def add_test(ruleset_id: uuid.UUID, body: TestIn, principal: Manager, services: Services) -> TestIn:
    with transaction(services.sessions) as session:
        service.add_test(
            session, principal, ruleset_id, name=body.name, data=body.input, expected=body.expected
        )
    return body


@router.get("/rulesets/{ruleset_id}/tests/run", response_model=list[TestRunOut])
def run_tests(ruleset_id: uuid.UUID, principal: Reader, services: Services) -> list[TestRunOut]:
    with transaction(services.sessions) as session:
        runs = service.run_tests(session, principal, ruleset_id)
    return [TestRunOut.model_validate(run, from_attributes=True) for run in runs]


@router.post("/rulesets/{ruleset_id}/publish", response_model=RulesetOut)
def publish(ruleset_id: uuid.UUID, principal: Manager, services: Services) -> RulesetOut:
    """Publish a draft whose test cases all pass (409 naming the failing ones otherwise)."""
    with transaction(services.sessions) as session:
        return RulesetOut.of(
            service.publish(session, principal, ruleset_id, now=services.clock.now())
        )


@router.post("/rulesets/{ruleset_id}/backtest")
def backtest(
    ruleset_id: uuid.UUID, body: BacktestIn, principal: Manager, services: Services
) -> dict[str, Any]:
    """How outcomes would change on past items: against the published version and against
    what analysts decided, overall and per reason code."""
    with transaction(services.sessions) as session:
        return service.backtest(
            session, principal, ruleset_id, keyring=services.keyring, limit=body.limit
        ).as_dict()


@router.get("/processes/{process_id}/decision-measures")
def decision_measures(
    process_id: uuid.UUID, principal: Reader, services: Services
) -> dict[str, Any]:
    """Straight-through rate, referral reasons, override rate per rule and version."""
    with transaction(services.sessions) as session:
        found = service.measures(session, principal, process_id)
    return {**found.__dict__, "stp_rate": found.stp_rate, "override_rate": found.override_rate}


def _referral(services: Services, principal: Principal, item_id: uuid.UUID) -> ReferralOut:
    """The item's decisions and the rules' trace, its personal values shown as the reader
    sees the item's payload (masked for provider staff; tandem.decisions.service.explain)."""
    with transaction(services.sessions) as session:
        item = visible_item(session, principal, item_id, services.clock.now())
        referral = service.explain(
            session, item, services.keyring, audience=service.audience_of(principal)
        )
        history = service.item_decisions(session, item.client_id, item.id)
        return ReferralOut(
            item_id=item.id,
            decision=DecisionOut.of(referral.decision) if referral.decision else None,
            trace=referral.trace,
            history=[DecisionOut.of(d) for d in history],
        )


@router.get("/leases/{item_id}/referral", response_model=ReferralOut)
def referral_for_analyst(item_id: uuid.UUID, principal: Analyst, services: Services) -> ReferralOut:
    """Why the rules referred the item leased to you: reasons and the rule trace."""
    return _referral(services, principal, item_id)


@router.get("/work-items/{item_id}/decisions", response_model=ReferralOut)
def item_decisions(item_id: uuid.UUID, principal: ItemReader, services: Services) -> ReferralOut:
    """Every decision on an item (rules, analysts, confirmations) and the rules' trace."""
    return _referral(services, principal, item_id)


@router.post("/leases/{item_id}/judgment", response_model=JudgmentOut)
def judge(
    item_id: uuid.UUID, body: JudgmentIn, principal: Analyst, services: Services
) -> JudgmentOut:
    """An analyst decides a referral; it is delivered, or waits for a second analyst when
    the four-eyes rule applies."""
    with transaction(services.sessions) as session:
        decision, state = service.judge(
            session,
            services.dispatcher,
            principal.agent(),
            item_id,
            body.attempt,
            outcome=body.outcome,
            reason=body.reason,
            keyring=services.keyring,
            notes=body.notes,
        )
        return JudgmentOut(item_id=item_id, state=state.value, override=decision.override)


@router.get("/decisions/confirmations", response_model=list[ConfirmationOut])
def confirmations(principal: Analyst, services: Services) -> list[ConfirmationOut]:
    """Judgments waiting for a second analyst, in the queues you may serve (not your own),
    with the application and the first analyst's judgment."""
    with transaction(services.sessions) as session:
        pending = service.pending_confirmations(session, services.dispatcher, principal.agent())
        return [
            ConfirmationOut(
                item_id=item.id,
                process_id=item.process_id,
                due_at=item.due_at,
                payload=staff_view(session, services.keyring, item, agent=True),
                judgment=DecisionOut.of(judgment),
            )
            for item, judgment in pending
        ]


@router.post("/decisions/confirmations/{item_id}", response_model=DecisionOut)
def confirm(
    item_id: uuid.UUID, body: ConfirmationIn, principal: Analyst, services: Services
) -> DecisionOut:
    with transaction(services.sessions) as session:
        decision = service.confirm(
            session,
            services.dispatcher,
            principal.agent(),
            item_id,
            agree=body.agree,
            notes=body.notes,
        )
        return DecisionOut.of(decision)


@router.post("/work-items/{item_id}/evaluation", response_model=EvaluationOut)
def evaluate_item(
    item_id: uuid.UUID, body: EvaluationIn, principal: ItemManager, services: Services
) -> EvaluationOut:
    """Evaluate an item waiting for a decision now (e.g. after new rules were published):
    delivered if the rules decide it, still queued for analysts if they refer it."""
    with transaction(services.sessions) as session:
        decision, state = service.evaluate_item(
            session,
            principal,
            item_id,
            now=services.clock.now(),
            keyring=services.keyring,
            ruleset_id=body.ruleset_id,
        )
        return EvaluationOut(decision=DecisionOut.of(decision), state=state.value)
