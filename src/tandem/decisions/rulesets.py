"""The versions of a decision process's rules: upload and its checks, test cases and running
them, publishing, which version is published, and the versions' compiled rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.caching import CACHES, LruCache
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.decisions import engine, jdm
from tandem.decisions import reasons as catalogues
from tandem.decisions.models import Ruleset, RulesetTest
from tandem.tenancy.context import Context


def decision_process(ctx: Context, process_id: uuid.UUID) -> Process:
    """The caller's process, refused unless it is a decision process."""
    process = get_process(ctx, process_id)
    if process.kind != "decision":
        raise InvalidInput(
            f"process {process.code} is a {process.kind} process; rulesets belong to decision "
            "processes",
            errors=[{"field": "process_id", "message": "not a decision process"}],
        )
    return process


def draft_form(graph: Any) -> dict[str, Any]:
    """A decision process's input form drafted from a graph (tandem.decisions.jdm.draft_form),
    refused with its problems if the graph is malformed."""
    problems = jdm.problems(graph, None)
    if problems:
        raise InvalidInput(
            f"the decision graph has {len(problems)} problem(s): "
            + "; ".join(f"{p.where}: {p.message}" for p in problems[:5]),
            errors=[{"field": p.where, "message": p.message} for p in problems],
        )
    return jdm.draft_form(graph)


def check_graph(process: Process, graph: Any, mapping: Any = None) -> None:
    """Refuse a graph that is malformed or reads a field the process input does not have,
    and an outcome mapping that does not compile."""
    fields = set((process.input_schema or {}).get("properties", {}))
    problems = engine.check(graph, fields) + engine.mapping_problems(mapping)
    if problems:
        raise InvalidInput(
            f"the decision graph has {len(problems)} problem(s): "
            + "; ".join(f"{p.where}: {p.message}" for p in problems[:5]),
            errors=[{"field": p.where, "message": p.message} for p in problems],
        )


def create_version(
    ctx: Context,
    process_id: uuid.UUID,
    graph: Any,
    *,
    four_eyes: dict[str, Any] | None = None,
    mapping: dict[str, Any] | None = None,
    note: str | None = None,
    reasons: dict[str, Any] | None = None,
) -> Ruleset:
    """A new draft version of the process's rules, numbered after the last one, with how its
    result reads as an outcome (`mapping`; None: the result's own `outcome` and `reasons`)
    and its reasons catalogue (`reasons`, tandem.decisions.reasons; None: none)."""
    process = decision_process(ctx, process_id)
    check_graph(process, graph, mapping)
    _check_four_eyes(process, four_eyes or {})
    wrong = catalogues.problems(reasons)
    if wrong:
        raise InvalidInput(
            f"the reasons catalogue has {len(wrong)} problem(s): "
            + "; ".join(f"{p['field']}: {p['message']}" for p in wrong[:5]),
            errors=wrong,
        )
    last = ctx.session.scalar(
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
        mapping=mapping or None,
        reasons=catalogues.cleaned(reasons),
        note=note,
        created_at=ctx.now,
        created_by=ctx.principal.actor,
    )
    with _raced("another version of these rules was uploaded at the same moment; upload again"):
        ctx.session.add(ruleset)
        ctx.session.flush()
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


def get_ruleset(ctx: Context, ruleset_id: uuid.UUID) -> Ruleset:
    ruleset = ctx.session.scalar(
        select(Ruleset).where(
            Ruleset.id == ruleset_id, ctx.principal.client_condition(Ruleset.client_id)
        )
    )
    if ruleset is None:
        raise NotFound(f"ruleset {ruleset_id} not found")
    return ruleset


def list_versions(ctx: Context, process_id: uuid.UUID) -> list[Ruleset]:
    process = decision_process(ctx, process_id)
    return list(
        ctx.session.scalars(
            select(Ruleset)
            .where(Ruleset.client_id == process.client_id, Ruleset.process_id == process.id)
            .order_by(Ruleset.version)
        )
    )


def _draft(ctx: Context, ruleset_id: uuid.UUID) -> Ruleset:
    ruleset = get_ruleset(ctx, ruleset_id)
    if ruleset.status != "draft":
        raise Conflict(
            f"version {ruleset.version} is {ruleset.status}: a published version never changes;"
            " upload a new version instead"
        )
    return ruleset


def add_test(
    ctx: Context,
    ruleset_id: uuid.UUID,
    *,
    name: str,
    data: dict[str, Any],
    expected: dict[str, Any],
) -> RulesetTest:
    ruleset = _draft(ctx, ruleset_id)
    if not expected:
        raise InvalidInput(
            "a test case must expect something",
            errors=[{"field": "expected", "message": "give at least one output field"}],
        )
    test = RulesetTest(
        client_id=ruleset.client_id, ruleset_id=ruleset.id, name=name, input=data, expected=expected
    )
    with _raced(f"this version already has a test case named {name!r}"):
        ctx.session.add(test)
        ctx.session.flush()
    return test


def copy_tests(ctx: Context, ruleset_id: uuid.UUID, version: int) -> list[RulesetTest]:
    """Another version's test cases (by its number, of the same process) added to a draft,
    but those whose name the draft has already: a new version is tested as the last one
    was, then publishable once they pass."""
    ruleset = _draft(ctx, ruleset_id)
    source = ctx.session.scalar(
        select(Ruleset).where(
            Ruleset.client_id == ruleset.client_id,
            Ruleset.process_id == ruleset.process_id,
            Ruleset.version == version,
        )
    )
    if source is None:
        raise NotFound(f"these rules have no version {version}")
    taken = {test.name for test in tests_of(ctx.session, ruleset)}
    copied = [
        RulesetTest(
            client_id=ruleset.client_id,
            ruleset_id=ruleset.id,
            name=test.name,
            input=test.input,
            expected=test.expected,
        )
        for test in tests_of(ctx.session, source)
        if test.name not in taken
    ]
    with _raced("test cases were added to this version at the same moment; try again"):
        ctx.session.add_all(copied)
        ctx.session.flush()
    return copied


def tests_of(session: Session, ruleset: Ruleset) -> list[RulesetTest]:
    return list(
        session.scalars(
            select(RulesetTest)
            .where(RulesetTest.client_id == ruleset.client_id, RulesetTest.ruleset_id == ruleset.id)
            .order_by(RulesetTest.name)
        )
    )


def as_fields(result: Any) -> dict[str, Any]:
    """A graph's result as the fields a test case expects: an object as it is; anything else
    (a list, from a collecting table last; a number) as the field `result`. With an outcome
    mapping, a test case's `outcome`, `reasons` and `delivered` are the mapped ones."""
    return result if isinstance(result, dict) else {"result": result}


@dataclass(frozen=True)
class TestRun:
    name: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]


def run_tests(ctx: Context, ruleset_id: uuid.UUID) -> list[TestRun]:
    return _run_tests(ctx.session, get_ruleset(ctx, ruleset_id))


def _run_tests(session: Session, ruleset: Ruleset) -> list[TestRun]:
    rules = rules_of(ruleset)
    runs = []
    for test in tests_of(session, ruleset):
        try:
            result, verdict = rules.evaluate_and_decide(test.input)
            actual = as_fields(result)
            if ruleset.mapping:  # what the platform reads: the mapped outcome and reasons
                actual = {**actual, "outcome": verdict.outcome, "reasons": verdict.reasons}
                if verdict.delivered is not None:
                    actual["delivered"] = verdict.delivered
        except RuntimeError as exc:
            actual = {"error": engine.engine_message(exc)}
        passed = all(actual.get(k) == v for k, v in test.expected.items())
        runs.append(TestRun(test.name, passed, test.expected, actual))
    return runs


def publish(ctx: Context, ruleset_id: uuid.UUID) -> Ruleset:
    """Publish a draft whose test cases all pass; the version published before is retired.
    Items decided from now on record this version."""
    ruleset = _draft(ctx, ruleset_id)
    runs = _run_tests(ctx.session, ruleset)
    if not runs:
        raise Conflict(f"version {ruleset.version} has no test cases: add some before publishing")
    failed = [run for run in runs if not run.passed]
    if failed:
        raise Conflict(
            f"version {ruleset.version} fails {len(failed)} of {len(runs)} test case(s): "
            + ", ".join(run.name for run in failed),
            failures=[{"name": r.name, "expected": r.expected, "actual": r.actual} for r in failed],
        )
    ctx.session.execute(
        update(Ruleset)
        .where(
            Ruleset.client_id == ruleset.client_id,
            Ruleset.process_id == ruleset.process_id,
            Ruleset.status == "published",
        )
        .values(status="retired", retired_at=ctx.now)
    )
    ruleset.status = "published"
    ruleset.published_at = ctx.now
    ruleset.published_by = ctx.principal.actor
    with _raced("another version was published at the same moment; reload and try again"):
        ctx.session.flush()
    return ruleset


def publish_version(
    ctx: Context,
    process_id: uuid.UUID,
    graph: Any,
    tests: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
    *,
    four_eyes: dict[str, Any] | None = None,
    mapping: dict[str, Any] | None = None,
    note: str | None = None,
    reasons: dict[str, Any] | None = None,
) -> Ruleset:
    """Upload a version with its test cases (name, input, expected) and publish it."""
    ruleset = create_version(
        ctx, process_id, graph, four_eyes=four_eyes, mapping=mapping, note=note, reasons=reasons
    )
    for name, data, expected in tests:
        add_test(ctx, ruleset.id, name=name, data=data, expected=expected)
    return publish(ctx, ruleset.id)


def published(session: Session, client_id: int, process_id: uuid.UUID) -> Ruleset | None:
    """The version of the process's rules that decides its items now, if any."""
    return session.scalar(
        select(Ruleset).where(
            Ruleset.client_id == client_id,
            Ruleset.process_id == process_id,
            Ruleset.status == "published",
        )
    )


_RULES: LruCache[tuple[int, uuid.UUID], engine.CompiledRules] = CACHES.bounded(
    "decisions.compiled_rules", 1_024
)


def rules_of(ruleset: Ruleset) -> engine.CompiledRules:
    """The version's compiled rules, looked up by its id: a stored graph never changes, and
    an arriving item should not pay for hashing the graph's JSON to find them."""
    graph, mapping = ruleset.graph, ruleset.mapping
    return _RULES.get_or_load(
        (ruleset.client_id, ruleset.id), lambda: engine.compiled(graph, mapping)
    )
