"""Rules as clients already write them: the 45 public JDM graphs of GoRules' zen repository
(../shared/benchmarks/jdm-graphs, copied to jdm_graphs/). Each gets a decision process drafted
from it, is uploaded, published with a test case, and decides generated inputs as zen-engine
itself does; the two with function nodes are refused, naming the node and why (README, "Rules
as clients write them")."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zen

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.decisions import engine, evaluator, jdm, rulesets
from tests.conftest import World

# A copy of ../shared/benchmarks/jdm-graphs (MIT licence, GoRules.io; see its README), kept
# with the tests so that they run wherever the repository is checked out.
GRAPHS = sorted((Path(__file__).parent / "jdm_graphs").glob("*.json"))
REFUSED = {"aml.json": "Aggregator", "company-analysis.json": "Overall Mapper"}
INPUTS = 12


def _literals(graph: dict[str, Any]) -> tuple[list[str], list[float]]:
    """The quoted texts and numbers the graph's rules mention: inputs made of them reach its
    rules' branches more often than random ones."""
    text = json.dumps(graph)
    words = sorted(set(re.findall(r"(?:\\\"|')([A-Za-z_][\w -]{0,30})(?:\\\"|')", text))) or ["x"]
    numbers = sorted({float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", text)}) or [0.0]
    return words, numbers


def _value(
    schema: dict[str, Any], rng: random.Random, words: list[str], numbers: list[float]
) -> Any:
    """A value the schema allows (its enum, type, bounds; an object's required members
    always, the others nearly always), drawn mostly from what the rules mention."""
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            name: _value(member, rng, words, numbers)
            for name, member in schema.get("properties", {}).items()
            if name in required or rng.random() < 0.95
        }
    if kind == "array":
        items = schema.get("items", {})
        return [_value(items, rng, words, numbers) for _ in range(rng.randint(0, 3))]
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", -1e9), schema.get("maximum", 1e9)
        value = min(max(rng.choice(numbers) + rng.choice((0, 0, 1, -1, 0.5)), low), high)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return f"2026-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}"
    if kind == "string":
        return rng.choice(words)
    return rng.choice([rng.choice(words), rng.choice(numbers), rng.random() < 0.5])


@pytest.fixture(autouse=True)
def generous_budget() -> Iterator[None]:
    """Equality with zen is this suite's subject, not the budget: a loaded test machine
    must not make an evaluation run past it."""
    before = engine.budget()
    engine.configure(engine.Budget(seconds=10, memory_mb=before.memory_mb))
    yield
    engine.configure(before)


def _zen(graph: dict[str, Any], data: dict[str, Any]) -> Any:
    """zen-engine's own answer: the result, or the error's message."""
    decision = zen.ZenEngine().create_decision(zen.ZenDecisionContent(json.dumps(graph)))
    try:
        return decision.evaluate(data)["result"]
    except Exception as exc:
        return ("error", engine.engine_message(exc))


def _answered(answer: Any) -> bool:
    return not isinstance(answer, tuple) and answer not in ({}, None)


def _tandem(rules: engine.CompiledRules, data: dict[str, Any]) -> Any:
    try:
        return rules.evaluate(data)
    except RuntimeError as exc:
        return ("error", engine.engine_message(exc))


@pytest.mark.parametrize("path", GRAPHS, ids=[p.name for p in GRAPHS])
def test_a_public_graph_is_drafted_uploaded_published_and_decides_as_zen_does(
    path: Path, container: Container, world: World
) -> None:
    graph = json.loads(path.read_text())
    form = jdm.draft_form(graph)
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code=path.stem[:40],
                name=path.stem,
                kind="decision",
                input_schema=form,
                form_schema={"type": "object", "properties": {"outcome": {"type": "string"}}},
                sla_minutes=480,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        process_id = process.id
    if path.name in REFUSED:
        with container.context(world.client_user) as ctx, pytest.raises(InvalidInput) as refused:
            rulesets.create_version(ctx, process_id, graph)
        errors = refused.value.extra["errors"]
        [problem] = [e for e in errors if "function nodes" in e["message"]]
        assert REFUSED[path.name] in problem["field"]
        return

    rng = random.Random(path.name)
    words, numbers = _literals(graph)
    inputs = [_value(form, rng, words, numbers) for _ in range(INPUTS)]
    # A test case: the first input on which zen gives a result, with that result.
    answers = [_zen(graph, data) for data in inputs]
    case, expected = next((d, a) for d, a in zip(inputs, answers, strict=True) if _answered(a))
    with container.context(world.client_user) as ctx:
        ruleset = rulesets.create_version(ctx, process_id, graph)
        fields = rulesets.as_fields(expected)
        rulesets.add_test(ctx, ruleset.id, name="zen's own", data=case, expected=fields)
        published = rulesets.publish(ctx, ruleset.id)
        rules = rulesets.rules_of(published)
    for data in inputs:
        assert _tandem(rules, data) == _zen(graph, data), data
    # Many at once, as intake decides a file: each input read as zen's own result reads.
    verdicts = rules.decide_many(inputs)
    for data, verdict in zip(inputs, verdicts, strict=True):
        answer = _zen(graph, data)
        if isinstance(answer, tuple):
            assert verdict.reasons == [engine.RULES_ERROR]
        else:
            reading = (verdict.outcome, verdict.reasons, verdict.recommendation, verdict.delivered)
            assert reading == evaluator.read(answer)


def test_every_shared_graph_is_in_the_suite() -> None:
    assert len(GRAPHS) == 45
