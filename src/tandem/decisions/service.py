"""Rulesets and decisions: authoring, publishing, straight-through processing at arrival,
analyst judgments with overrides and four-eyes confirmation, backtests and measures."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import ColumnElement, Subquery, Table, Text, func, insert, select, tuple_, update
from sqlalchemy import cast as cast_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import get_process, personal_view
from tandem.core import metrics
from tandem.core.caching import CACHES, LruCache
from tandem.core.db import new_id, new_id_hex
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.decisions import backtest as backtest_
from tandem.decisions import engine
from tandem.decisions.engine import Verdict
from tandem.decisions.lineage import personal_sources
from tandem.decisions.models import Decision, Ruleset, RulesetTest
from tandem.delivery.models import WebhookDelivery
from tandem.dispatch.service import Dispatcher
from tandem.tenancy.permissions import AGENT_ROLES
from tandem.tenancy.principal import Principal
from tandem.vault.masking import mask_trace
from tandem.vault.sealing import Keyring, Storing, clear_payload, opened
from tandem.work import transitions
from tandem.work.access import visible_item
from tandem.work.chunks import JsonInsert, item_rows
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import ItemRef, move

decisions = cast(Table, Decision.__table__)
webhook_deliveries = cast(Table, WebhookDelivery.__table__)

# -- authoring ---------------------------------------------------------------------------------


def _decision_process(session: Session, principal: Principal, process_id: uuid.UUID) -> Process:
    process = get_process(session, principal, process_id)
    if process.kind != "decision":
        raise InvalidInput(
            f"process {process.code} is a {process.kind} process; rulesets belong to decision "
            "processes",
            errors=[{"field": "process_id", "message": "not a decision process"}],
        )
    return process


def check_graph(process: Process, graph: Any) -> None:
    """Refuse a graph that is malformed or reads a field the process input does not have."""
    fields = set((process.input_schema or {}).get("properties", {}))
    problems = engine.check(graph, fields)
    if problems:
        raise InvalidInput(
            f"the decision graph has {len(problems)} problem(s): "
            + "; ".join(f"{p.where}: {p.message}" for p in problems[:5]),
            errors=[{"field": p.where, "message": p.message} for p in problems],
        )


def create_version(
    session: Session,
    principal: Principal,
    process_id: uuid.UUID,
    graph: Any,
    *,
    now: datetime,
    four_eyes: dict[str, Any] | None = None,
    note: str | None = None,
) -> Ruleset:
    """A new draft version of the process's rules, numbered after the last one."""
    process = _decision_process(session, principal, process_id)
    check_graph(process, graph)
    _check_four_eyes(process, four_eyes or {})
    last = session.scalar(
        select(func.max(Ruleset.version)).where(
            Ruleset.client_id == process.client_id, Ruleset.process_id == process.id
        )
    )
    ruleset = Ruleset(
        client_id=process.client_id,
        process_id=process.id,
        version=(last or 0) + 1,
        status="draft",
        graph=graph,
        four_eyes=four_eyes or {},
        note=note,
        created_at=now,
    )
    with _raced("another version of these rules was uploaded at the same moment; upload again"):
        session.add(ruleset)
        session.flush()
    return ruleset


@contextmanager
def _raced(message: str) -> Iterator[None]:
    """A unique key already taken, by an earlier or a concurrent request: a conflict, not a
    500."""
    try:
        yield
    except IntegrityError:
        raise Conflict(message) from None


def _check_four_eyes(process: Process, rule: dict[str, Any]) -> None:
    unknown = set(rule) - {"declines", "amount_field", "above"}
    errors = [{"field": f"four_eyes.{k}", "message": "unknown setting"} for k in sorted(unknown)]
    amount_field = rule.get("amount_field")
    if amount_field is not None and amount_field not in process.input_schema.get("properties", {}):
        errors.append(
            {"field": "four_eyes.amount_field", "message": "not a field of the process input"}
        )
    if ("above" in rule) != ("amount_field" in rule):
        errors.append({"field": "four_eyes", "message": "amount_field and above go together"})
    if errors:
        raise InvalidInput("invalid four-eyes rule", errors=errors)


def get_ruleset(session: Session, principal: Principal, ruleset_id: uuid.UUID) -> Ruleset:
    ruleset = session.scalar(
        select(Ruleset).where(
            Ruleset.id == ruleset_id, principal.client_condition(Ruleset.client_id)
        )
    )
    if ruleset is None:
        raise NotFound(f"ruleset {ruleset_id} not found")
    return ruleset


def list_versions(session: Session, principal: Principal, process_id: uuid.UUID) -> list[Ruleset]:
    process = _decision_process(session, principal, process_id)
    return list(
        session.scalars(
            select(Ruleset)
            .where(Ruleset.client_id == process.client_id, Ruleset.process_id == process.id)
            .order_by(Ruleset.version)
        )
    )


def _draft(session: Session, principal: Principal, ruleset_id: uuid.UUID) -> Ruleset:
    ruleset = get_ruleset(session, principal, ruleset_id)
    if ruleset.status != "draft":
        raise Conflict(
            f"version {ruleset.version} is {ruleset.status}: a published version never changes;"
            " upload a new version instead"
        )
    return ruleset


def add_test(
    session: Session,
    principal: Principal,
    ruleset_id: uuid.UUID,
    *,
    name: str,
    data: dict[str, Any],
    expected: dict[str, Any],
) -> RulesetTest:
    ruleset = _draft(session, principal, ruleset_id)
    if not expected:
        raise InvalidInput(
            "a test case must expect something",
            errors=[{"field": "expected", "message": "give at least one output field"}],
        )
    test = RulesetTest(
        client_id=ruleset.client_id, ruleset_id=ruleset.id, name=name, input=data, expected=expected
    )
    with _raced(f"this version already has a test case named {name!r}"):
        session.add(test)
        session.flush()
    return test


def tests_of(session: Session, ruleset: Ruleset) -> list[RulesetTest]:
    return list(
        session.scalars(
            select(RulesetTest)
            .where(RulesetTest.client_id == ruleset.client_id, RulesetTest.ruleset_id == ruleset.id)
            .order_by(RulesetTest.name)
        )
    )


@dataclass(frozen=True)
class TestRun:
    name: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]


def run_tests(session: Session, principal: Principal, ruleset_id: uuid.UUID) -> list[TestRun]:
    return _run_tests(session, get_ruleset(session, principal, ruleset_id))


def _run_tests(session: Session, ruleset: Ruleset) -> list[TestRun]:
    rules = rules_of(ruleset)
    runs = []
    for test in tests_of(session, ruleset):
        try:
            actual = rules.evaluate(test.input)
        except RuntimeError as exc:
            actual = {"error": engine.engine_message(exc)}
        passed = all(actual.get(k) == v for k, v in test.expected.items())
        runs.append(TestRun(test.name, passed, test.expected, actual))
    return runs


def publish(
    session: Session, principal: Principal, ruleset_id: uuid.UUID, *, now: datetime
) -> Ruleset:
    """Publish a draft whose test cases all pass; the version published before is retired.
    Items decided from now on record this version."""
    ruleset = _draft(session, principal, ruleset_id)
    runs = _run_tests(session, ruleset)
    if not runs:
        raise Conflict(f"version {ruleset.version} has no test cases: add some before publishing")
    failed = [run for run in runs if not run.passed]
    if failed:
        raise Conflict(
            f"version {ruleset.version} fails {len(failed)} of {len(runs)} test case(s): "
            + ", ".join(run.name for run in failed),
            failures=[{"name": r.name, "expected": r.expected, "actual": r.actual} for r in failed],
        )
    session.execute(
        update(Ruleset)
        .where(
            Ruleset.client_id == ruleset.client_id,
            Ruleset.process_id == ruleset.process_id,
            Ruleset.status == "published",
        )
        .values(status="retired", retired_at=now)
    )
    ruleset.status = "published"
    ruleset.published_at = now
    with _raced("another version was published at the same moment; reload and try again"):
        session.flush()
    return ruleset


_RULES: LruCache[tuple[int, uuid.UUID], engine.CompiledRules] = CACHES.bounded(
    "decisions.compiled_rules", 1_024
)


def rules_of(ruleset: Ruleset) -> engine.CompiledRules:
    """The version's compiled rules, looked up by its id: a stored graph never changes, and
    an arriving item should not pay for hashing the graph's JSON to find them."""
    graph = ruleset.graph
    return _RULES.get_or_load((ruleset.client_id, ruleset.id), lambda: engine.compiled(graph))


def publish_version(
    session: Session,
    principal: Principal,
    process_id: uuid.UUID,
    graph: Any,
    tests: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
    *,
    now: datetime,
    four_eyes: dict[str, Any] | None = None,
    note: str | None = None,
) -> Ruleset:
    """Upload a version with its test cases (name, input, expected) and publish it."""
    ruleset = create_version(
        session, principal, process_id, graph, now=now, four_eyes=four_eyes, note=note
    )
    for name, data, expected in tests:
        add_test(session, principal, ruleset.id, name=name, data=data, expected=expected)
    return publish(session, principal, ruleset.id, now=now)


def published(session: Session, client_id: int, process_id: uuid.UUID) -> Ruleset | None:
    return session.scalar(
        select(Ruleset).where(
            Ruleset.client_id == client_id,
            Ruleset.process_id == process_id,
            Ruleset.status == "published",
        )
    )


# -- straight-through processing at arrival ----------------------------------------------------

RULES_ACTOR = "system:rules"


def auto_result(verdict: Verdict, ruleset: Ruleset) -> dict[str, Any]:
    """What the client receives for an item the rules decided."""
    return {
        "outcome": verdict.outcome,
        "reason": ", ".join(verdict.reasons) or verdict.outcome,
        "reasons": verdict.reasons,
        "decided_by": "rules",
        "ruleset_version": ruleset.version,
    }


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
    session: Session,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    now: datetime,
    keyring: Keyring,
    ruleset_id: uuid.UUID | None = None,
) -> tuple[Decision, State]:
    """Evaluate an item on demand: with the published rules, or with the version named
    (pinned). An item waiting for an analyst (received or queued) that the rules now decide
    is delivered; one they still refer is queued, with the new reasons recorded."""
    item = visible_item(session, principal, item_id, now)
    ruleset: Ruleset | None
    if ruleset_id is not None:
        ruleset = pinned = get_ruleset(session, principal, ruleset_id)
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
    verdict = rules_of(ruleset).decide(clear_payload(keyring, item))
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
        self._pending: list[tuple[list[list[Any]], Future[list[Verdict]]]] = []

    def parts(self, chunk: Sequence[list[Any]]) -> list[tuple[JsonInsert, list[list[Any]]]]:
        """Hand the chunk to the engine and return the rows of the chunk before it: the
        engine decides one chunk while the next is read and validated."""
        decided = self.rules.decide_later([payload for _, payload in chunk])
        self._pending.append((list(chunk), decided))
        return self._written(*self._pending.pop(0)) if len(self._pending) > 1 else []

    def finish(self) -> list[tuple[JsonInsert, list[list[Any]]]]:
        """The rows of the chunk still with the engine, once the file is read."""
        pending, self._pending = self._pending, []
        return [part for chunk, decided in pending for part in self._written(chunk, decided)]

    def _written(
        self, chunk: list[list[Any]], decided: Future[list[Verdict]]
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


# -- what analysts see and decide -------------------------------------------------------------


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


def explain(session: Session, item: WorkItem, keyring: Keyring, *, audience: Audience) -> Referral:
    """The rules' latest verdict on the item and its trace, replayed on the version that
    decided it (published versions never change, so the replay is what happened). The rules
    run on the clear payload; the trace shows the audience what its payload shows: personal
    values it may not see, and values the rules computed from them, masked."""
    decision = _latest(session, item, "rules")
    if decision is None:
        return Referral(None, [])
    ruleset = session.get_one(Ruleset, (item.client_id, decision.ruleset_id))
    trace = rules_of(ruleset).trace(clear_payload(keyring, item))
    if audience == "client":
        return Referral(decision, trace)
    fields, visible = personal_view(session, item.client_id, item.process_id)
    if not fields:
        return Referral(decision, trace)
    shown = visible if audience == "agent" else frozenset()
    return Referral(decision, mask_trace(trace, personal_sources(ruleset.graph, fields), shown))


def _four_eyes(ruleset: Ruleset | None, outcome: str, payload: dict[str, Any]) -> bool:
    rule = ruleset.four_eyes if ruleset else {}
    if rule.get("declines") and outcome == "decline":
        return True
    amount = payload.get(rule.get("amount_field", ""))
    return isinstance(amount, int | float) and amount > rule.get("above", float("inf"))


def judge(
    session: Session,
    dispatcher: Dispatcher,
    agent_id: uuid.UUID,
    item_id: uuid.UUID,
    attempt: int,
    *,
    outcome: str,
    reason: str,
    keyring: Keyring,
    notes: str | None = None,
) -> tuple[Decision, State]:
    """An analyst's judgment on a leased referral. One that differs from what the rules
    advised on referring it (their recommendation) is an override; without advice there is
    nothing to override. When the four-eyes rule applies (a decline, or an amount above the
    limit), the item waits in review for a second analyst; otherwise it is delivered."""
    if outcome not in engine.ADVICE:
        raise InvalidInput(
            "an analyst approves or declines",
            errors=[{"field": "outcome", "message": "must be approve or decline"}],
        )
    result = {"outcome": outcome, "reason": reason, **({"notes": notes} if notes else {})}
    item = dispatcher.leased(session, agent_id, item_id, attempt, dispatcher.clock.now())
    referral = _latest(session, item, "rules")
    ruleset = (
        session.get(Ruleset, (item.client_id, referral.ruleset_id)) if referral else None
    ) or published(session, item.client_id, item.process_id)
    advice = referral.recommended if referral else None
    second_pair = _four_eyes(ruleset, outcome, clear_payload(keyring, item))
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
        at=dispatcher.clock.now(),
    )
    session.add(decision)
    session.flush()
    metrics.DECISIONS.labels(decision.by, decision.outcome).inc()
    return decision, ref.state


def pending_confirmations(
    session: Session, dispatcher: Dispatcher, agent_id: uuid.UUID
) -> list[tuple[WorkItem, Decision]]:
    """Judgments waiting for a second analyst, with the item, in the queues this analyst
    may serve; not the ones they judged themselves."""
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
    session: Session,
    dispatcher: Dispatcher,
    agent_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    agree: bool,
    notes: str | None = None,
) -> Decision:
    """The second pair of eyes: agreeing delivers the first analyst's judgment (and tells
    the client's webhooks); disagreeing sends the item back to be judged again (rework,
    then queued)."""
    now = dispatcher.clock.now()
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


# -- measures -----------------------------------------------------------------------------------


@dataclass
class Measures:
    decided_by_rules: int = 0
    straight_through: int = 0
    referred: int = 0
    referral_reasons: dict[str, int] = field(default_factory=dict)
    judged: int = 0
    overrides: int = 0
    # per (version, reason code of the referral): judgments and overrides
    overrides_by_rule: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stp_rate(self) -> float | None:
        return (
            round(self.straight_through / self.decided_by_rules, 4)
            if self.decided_by_rules
            else None
        )

    @property
    def override_rate(self) -> float | None:
        return round(self.overrides / self.judged, 4) if self.judged else None


def measures(session: Session, principal: Principal, process_id: uuid.UUID) -> Measures:
    """The process's measures, counting items, not decision rows: each item by its latest
    rules decision (one evaluated again on demand counts once, with its latest outcome) and,
    if analysts judged it, by its latest judgment (one judged again after a second analyst
    disagreed counts once)."""
    process = _decision_process(session, principal, process_id)
    scope = (Decision.client_id == process.client_id, Decision.process_id == process.id)
    ruled = _latest_per_item(scope, "rules")
    result = Measures()
    for outcome, count in session.execute(
        select(ruled.c.outcome, func.count()).group_by(ruled.c.outcome)
    ):
        result.decided_by_rules += count
        if outcome == "refer":
            result.referred += count
        else:
            result.straight_through += count
    reasons: Counter[str] = Counter()
    for codes, count in session.execute(
        select(ruled.c.reasons, func.count())
        .where(ruled.c.outcome == "refer")
        .group_by(ruled.c.reasons)
    ):
        for code in codes or []:
            reasons[code] += count
    result.referral_reasons = dict(reasons.most_common())
    # Each item's latest judgment against the referral it answered (its reasons and version).
    judged = _latest_per_item(scope, "analyst")
    answered = _answered(scope, judged)
    per_rule: Counter[tuple[int | None, str]] = Counter()
    overridden: Counter[tuple[int | None, str]] = Counter()
    for version, codes, count, overrides in session.execute(
        select(
            judged.c.ruleset_version,
            answered.c.reasons,
            func.count(),
            func.count().filter(judged.c.override),
        )
        .select_from(judged)
        .outerjoin(answered, answered.c.work_item_id == judged.c.work_item_id)
        .group_by(judged.c.ruleset_version, answered.c.reasons)
    ):
        result.judged += count
        result.overrides += overrides
        for code in codes or ["(none)"]:
            per_rule[(version, code)] += count
            overridden[(version, code)] += overrides
    result.overrides_by_rule = [
        {
            "version": version,
            "reason": code,
            "judged": count,
            "overrides": overridden[(version, code)],
            "override_rate": round(overridden[(version, code)] / count, 4),
        }
        for (version, code), count in sorted(per_rule.items(), key=_by_version)
    ]
    return result


def _latest_per_item(scope: Sequence[ColumnElement[bool]], by: str) -> Subquery:
    """Each item's latest decision by the rules or an analyst, within `scope`. Decisions made
    at the same moment (one transaction, a test's clock) come in the order of their ids,
    which are time-ordered UUIDv7s."""
    rank = (
        func.row_number()
        .over(
            partition_by=Decision.work_item_id,
            order_by=(Decision.at.desc(), Decision.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            Decision.id,
            Decision.work_item_id,
            Decision.at,
            Decision.outcome,
            Decision.reasons,
            Decision.ruleset_version,
            Decision.override,
            rank,
        )
        .where(*scope, Decision.by == by)
        .subquery()
    )
    return select(ranked).where(ranked.c.rank == 1).subquery()


def _answered(scope: Sequence[ColumnElement[bool]], judged: Subquery) -> Subquery:
    """The referral each of the `judged` judgments answered: the item's latest rules referral
    made before it (the rules may refer an item again after a judgment a second analyst
    did not confirm)."""
    before = (Decision.at < judged.c.at) | (
        (Decision.at == judged.c.at) & (Decision.id < judged.c.id)
    )
    rank = (
        func.row_number()
        .over(
            partition_by=Decision.work_item_id,
            order_by=(Decision.at.desc(), Decision.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Decision.work_item_id, Decision.reasons, rank)
        .join(judged, judged.c.work_item_id == Decision.work_item_id)
        .where(*scope, Decision.by == "rules", Decision.outcome == "refer", before)
        .subquery()
    )
    return select(ranked.c.work_item_id, ranked.c.reasons).where(ranked.c.rank == 1).subquery()


def _by_version(entry: tuple[tuple[int | None, str], int]) -> tuple[int, str]:
    (version, code), _ = entry
    return version or 0, code


# -- backtest -----------------------------------------------------------------------------------

BACKTEST_CHUNK = 2000  # items per engine call
BACKTEST_WINDOW = 20 * BACKTEST_CHUNK  # items read at a time, decided on every core


def backtest(
    session: Session,
    principal: Principal,
    ruleset_id: uuid.UUID,
    *,
    keyring: Keyring,
    limit: int = 100_000,
) -> backtest_.Report:
    """Run a version (typically a draft) over the process's most recent past items that the
    rules decided, against the published version and the analysts' final judgments. The
    published version's verdict is the stored one where that version decided the item (a
    published version never changes), and evaluated afresh otherwise."""
    ruleset = get_ruleset(session, principal, ruleset_id)
    current = published(session, ruleset.client_id, ruleset.process_id)
    draft = rules_of(ruleset)
    current_rules = rules_of(current) if current else None
    scope = (Decision.client_id == ruleset.client_id, Decision.process_id == ruleset.process_id)
    # Each item once: by its latest rules decision, with its latest judgment if any.
    latest = _latest_per_item(scope, "rules")
    judged = _latest_per_item(scope, "analyst")
    ruled = (
        select(
            latest.c.work_item_id,
            latest.c.outcome,
            latest.c.ruleset_version,
            # As JSON text, handed to the engine as it is: parsing it in Python first costs
            # as much as deciding it.
            cast_(WorkItem.payload, Text).label("payload"),
            judged.c.outcome.label("analyst"),
            WorkItem.sealed,
        )
        .select_from(latest)
        .join(
            WorkItem,
            (WorkItem.client_id == ruleset.client_id) & (WorkItem.id == latest.c.work_item_id),
        )
        .outerjoin(judged, judged.c.work_item_id == latest.c.work_item_id)
        .order_by(latest.c.at.desc(), latest.c.id.desc())
        .limit(limit)
    )
    windows = session.execute(ruled).yield_per(BACKTEST_WINDOW).partitions()
    cases = _cases(_in_clear(windows, keyring, ruleset.client_id), draft, current, current_rules)
    return backtest_.compare(cases)


class _Ruled(NamedTuple):
    work_item_id: uuid.UUID
    outcome: str
    ruleset_version: int | None
    payload: str
    analyst: str | None


def _in_clear(
    windows: Iterator[Sequence[Any]], keyring: Keyring, client_id: int
) -> Iterator[Sequence[Any]]:
    """The windows with sealed personal fields opened into their payloads' JSON text."""
    for window in windows:
        yield [
            row
            if row.sealed is None
            else _Ruled(
                row.work_item_id,
                row.outcome,
                row.ruleset_version,
                _opened(keyring, client_id, row),
                row.analyst,
            )
            for row in window
        ]


def _opened(keyring: Keyring, client_id: int, row: Any) -> str:
    clear = opened(keyring, client_id, row.work_item_id, json.loads(row.payload), row.sealed)
    return json.dumps(clear)


def _cases(
    windows: Iterator[Sequence[Any]],
    draft: engine.CompiledRules,
    current: Ruleset | None,
    current_rules: engine.CompiledRules | None,
) -> Iterator[backtest_.Case]:
    """The backtest's cases, window by window: the draft decides a window on the engine's
    threads while the next one is read from the database."""
    pending: tuple[Sequence[Any], list[str], list[Future[list[Verdict]]]] | None = None
    for window in chain(windows, [None]):
        if window is not None:
            was = [row.outcome for row in window]
            stale = [
                i
                for i, row in enumerate(window)
                if current and row.ruleset_version != current.version
            ]
            if current_rules and stale:  # decided by another version: what would this say?
                fresh = current_rules.decide_many([window[i].payload for i in stale])
                for i, verdict in zip(stale, fresh, strict=True):
                    was[i] = verdict.outcome
            decided = [
                draft.decide_later([row.payload for row in window[i : i + BACKTEST_CHUNK]])
                for i in range(0, len(window), BACKTEST_CHUNK)
            ]
        if pending is not None:
            rows, outcomes, futures = pending
            verdicts = chain.from_iterable(future.result() for future in futures)
            for row, was_, verdict in zip(rows, outcomes, verdicts, strict=True):
                yield backtest_.Case(was_, verdict.outcome, tuple(verdict.reasons), row.analyst)
        pending = (window, was, decided) if window is not None else None
