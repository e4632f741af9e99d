"""zen-engine behind one small interface: check a graph, decide many inputs, explain one.

Each graph is compiled once (per distinct content) and reused. Many inputs are decided in
one engine call: a wrapper graph runs the ruleset as a sub-decision over a list, which costs
about a fifth of calling the engine once per input (each call has a fixed cost of about
0.25 ms on this machine, more than a ruleset of a few tables takes to run).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import zen

from tandem.decisions import jdm
from tandem.decisions.jdm import Problem

OUTCOMES = ("approve", "decline", "refer")
ADVICE = ("approve", "decline")  # what a referral may recommend, and what analysts decide
NO_OUTCOME = "NO_OUTCOME"  # the rules gave no valid outcome: an analyst decides
RULES_ERROR = "RULES_ERROR"  # the rules failed on this input: an analyst decides

_RULESET_KEY = "ruleset"
_BATCH = json.dumps(
    {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "in", "position": {"x": 0, "y": 0}},
            {
                "id": "each",
                "type": "decisionNode",
                "name": "each",
                "position": {"x": 200, "y": 0},
                "content": {
                    "key": _RULESET_KEY,
                    "executionMode": "loop",
                    "inputField": "items",
                    "outputPath": "results",
                    "passThrough": False,
                },
            },
            {"id": "out", "type": "outputNode", "name": "out", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "each", "type": "edge"},
            {"id": "b", "sourceId": "each", "targetId": "out", "type": "edge"},
        ],
    }
)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reasons: list[str]
    result: dict[str, Any]  # all the graph returned
    # On a referral, what the rules advise (approve or decline), if they say.
    recommendation: str | None = None


def verdict_of(result: Any) -> Verdict:
    """The platform's reading of a graph's result: `outcome` (approve, decline or refer),
    `reasons` (a list of codes, or one `reason`) and, on a referral, an optional
    `recommendation` (approve or decline). A result without a valid outcome is referred."""
    if not isinstance(result, dict) or result.get("outcome") not in OUTCOMES:
        return Verdict("refer", [NO_OUTCOME], result if isinstance(result, dict) else {})
    reasons = result.get("reasons", result.get("reason"))
    if isinstance(reasons, str):
        reasons = [reasons]
    if not isinstance(reasons, list):
        reasons = []
    advice = result.get("recommendation")
    recommendation = advice if result["outcome"] == "refer" and advice in ADVICE else None
    return Verdict(result["outcome"], [str(r) for r in reasons], result, recommendation)


def engine_message(exc: Exception) -> str:
    """zen's errors carry a JSON head and a Rust backtrace; keep what a person can use."""
    text = str(exc).split("Stack backtrace")[0].strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        parts = [str(data.get("source") or data.get("type") or text)]
        if data.get("nodeId"):
            parts.append(f"(node {data['nodeId']})")
        return " ".join(parts)
    return text


Input = dict[str, Any] | str


def _batch(inputs: Sequence[Input]) -> dict[str, Any] | str:
    """The wrapper graph's input: given as JSON text when every input is JSON text already
    (as payloads read from the database can be), which the engine parses itself."""
    if all(isinstance(data, str) for data in inputs):
        return '{"items": [' + ", ".join(inputs) + "]}"  # type: ignore[arg-type]
    return {"items": [json.loads(d) if isinstance(d, str) else d for d in inputs]}


_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()
_SLOTS: asyncio.Semaphore | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop on a thread of its own, to await the engine's asynchronous calls."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
            threading.Thread(target=_LOOP.run_forever, name="rules-engine", daemon=True).start()
        return _LOOP


def _engine_slots() -> asyncio.Semaphore:
    """At most two batches per core in the engine at once (more only queue there)."""
    global _SLOTS
    if _SLOTS is None:  # created on the loop's thread, the only one that uses it
        _SLOTS = asyncio.Semaphore(2 * (os.cpu_count() or 1))
    return _SLOTS


@contextmanager
def _engine_errors() -> Iterator[None]:
    """zen-engine raises RuntimeError when a rule fails, but a plain Exception for an input
    it cannot take (a number beyond 64-bit floats): both are the rules failing on the input,
    referred with RULES_ERROR, never an error of the service."""
    try:
        yield
    except RuntimeError:
        raise
    except Exception as exc:
        raise RuntimeError(str(exc)) from exc


class CompiledRules:
    """A compiled graph. Thread-safe for evaluation."""

    def __init__(self, graph: dict[str, Any]) -> None:
        self.graph = graph
        self._content = zen.ZenDecisionContent(json.dumps(graph))
        self._engine = zen.ZenEngine({"loader": self._load})
        self._one = self._engine.create_decision(self._content)
        self._many = self._engine.create_decision(zen.ZenDecisionContent(_BATCH))

    def _load(self, key: str) -> Any:
        return self._content

    def evaluate(self, data: dict[str, Any]) -> dict[str, Any]:
        """The graph's raw result for one input (raises RuntimeError on a failing rule, or a
        value the engine cannot take)."""
        with _engine_errors():
            return self._one.evaluate(data)["result"]

    def decide(self, data: dict[str, Any]) -> Verdict:
        return self.decide_many([data])[0]

    def decide_many(self, inputs: Sequence[Input]) -> list[Verdict]:
        """One verdict per input (an object, or an object as JSON text), in order. If the
        batch fails, inputs are retried one by one and only those that fail are referred
        (RULES_ERROR), with the engine's message."""
        if not inputs:
            return []
        try:
            with _engine_errors():
                response = self._many.evaluate(_batch(inputs))
        except RuntimeError:
            return [self._decide_alone(data) for data in inputs]
        return [verdict_of(result) for result in response["result"]["results"]]

    def decide_later(self, inputs: Sequence[Input]) -> Future[list[Verdict]]:
        """decide_many, run by the engine's own threads: the caller goes on (the engine
        holds the GIL only to take the inputs and hand back the results) and several
        batches decide at once on several cores."""
        return asyncio.run_coroutine_threadsafe(self._decide_async(list(inputs)), _event_loop())

    def decide_all(self, batches: Sequence[Sequence[Input]]) -> list[list[Verdict]]:
        """Many batches at once, on every core."""
        futures = [self.decide_later(batch) for batch in batches]
        return [future.result() for future in futures]

    async def _decide_async(self, inputs: list[Input]) -> list[Verdict]:
        if not inputs:
            return []
        async with _engine_slots():
            try:
                with _engine_errors():
                    response = await self._many.async_evaluate(_batch(inputs))
            except RuntimeError:
                return [self._decide_alone(data) for data in inputs]
        return [verdict_of(result) for result in response["result"]["results"]]

    def _decide_alone(self, data: Input) -> Verdict:
        try:
            return verdict_of(self.evaluate(json.loads(data) if isinstance(data, str) else data))
        except RuntimeError as exc:
            return Verdict("refer", [RULES_ERROR], {"error": engine_message(exc)})

    def trace(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """What each node did for this input, in order: the rules that matched (decision
        tables) and the values the node set (not the ones it passed through). Nothing for an
        input the rules fail on: its referral's reason (RULES_ERROR) says so."""
        try:
            with _engine_errors():
                response = self._one.evaluate(data, {"trace": True})
        except RuntimeError:
            return []
        steps = sorted(response.get("trace", {}).values(), key=lambda s: s.get("order", 0))
        kinds = {node["id"]: node.get("type") for node in self.graph["nodes"]}
        trace = []
        for step in steps:
            kind = kinds.get(step.get("id"))
            if kind in ("inputNode", "outputNode"):
                continue
            before = step.get("input") or {}
            after = step.get("output") or {}
            entry: dict[str, Any] = {"node": step.get("name"), "type": kind}
            if isinstance(after, dict):
                entry["set"] = {k: v for k, v in after.items() if before.get(k) != v}
            if kind == "decisionTableNode":
                data_ = step.get("traceData")
                matches = data_ if isinstance(data_, list) else [data_] if data_ else []
                entry["matched"] = [
                    (m.get("rule") or {}).get("_description") or (m.get("rule") or {}).get("_id")
                    for m in matches
                    if isinstance(m, dict)
                ]
            trace.append(entry)
        return trace


@functools.lru_cache(maxsize=256)
def _compiled(canonical: str) -> CompiledRules:
    return CompiledRules(json.loads(canonical))


def compiled(graph: dict[str, Any]) -> CompiledRules:
    """The compiled ruleset of a graph, compiled once per distinct content."""
    return _compiled(json.dumps(graph, sort_keys=True))


def check(graph: Any, input_fields: set[str]) -> list[Problem]:
    """Everything wrong with a graph before it may be stored: its shape, every expression's
    syntax (naming node, rule and column), fields the process input does not have, and what
    the engine itself refuses (cycles, dangling edges)."""
    found = jdm.problems(graph, input_fields)
    if found:
        return found
    for where, text, unary in jdm.expressions_of(graph):
        # compile_*, not validate_*: zen 2.1's validate_unary_expression refuses '> 5'.
        try:
            (zen.compile_unary_expression if unary else zen.compile_expression)(text)
        except RuntimeError as exc:
            found.append(Problem(where, f"invalid expression {text!r}: {engine_message(exc)}"))
    if found:
        return found
    try:
        zen.ZenEngine().create_decision(zen.ZenDecisionContent(json.dumps(graph))).validate()
    except RuntimeError as exc:
        found.append(Problem("graph", engine_message(exc)))
    return found
