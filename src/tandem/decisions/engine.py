"""zen-engine behind one small interface: check a graph, decide many inputs, explain one.

A client's rules run under a budget (`Budget`): in worker processes (tandem.decisions.
evaluator), each evaluation with a deadline past which its worker is killed and replaced, and
with a cap on each worker's memory. zen-engine itself has no time limit: a nested `map` over a
range runs for minutes, and in the service's own process it would hold a thread and a core for
as long. An input the rules cannot decide within the budget is referred (RULES_BUDGET), and a
ruleset over budget on several inputs in a row is paused for a while (its inputs referred
without running), so that one client's rules never hold the workers other clients need.

Inputs are decided in batches, one engine call each, in parallel on every core; a batch that
fails or runs past its deadline is decided again input by input, so that only the inputs at
fault are referred.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
import pebble
import zen

from tandem.decisions import evaluator, jdm
from tandem.decisions.evaluator import ADVICE as ADVICE
from tandem.decisions.evaluator import NO_OUTCOME as NO_OUTCOME
from tandem.decisions.evaluator import Mapping, read
from tandem.decisions.jdm import Problem

RULES_ERROR = "RULES_ERROR"  # the rules failed on this input: an analyst decides
RULES_BUDGET = "RULES_BUDGET"  # the rules ran past their budget on this input: an analyst decides


@dataclass(frozen=True)
class Budget:
    """What the rules may spend on one input: `seconds` of a worker's time and `memory_mb` of
    its address space. A batch of n inputs may take `seconds * (1 + n / 100)` before it is
    decided again input by input. `workers`: how many rules workers (0: one per core)."""

    seconds: float = 0.5
    memory_mb: int = 1024
    workers: int = 0

    def batch_seconds(self, inputs: int) -> float:
        return self.seconds * (1 + inputs / 100)


PAUSE_AFTER = 3  # inputs over budget in a row that pause a ruleset
PAUSE_SECONDS = 300.0  # how long its inputs are then referred without running


class OverBudget(RuntimeError):
    """The rules ran past their budget on an input (or were paused for doing so)."""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reasons: list[str]
    # On a referral, what the rules advise (approve or decline), if they say.
    recommendation: str | None = None
    # The parts of the result the ruleset's mapping delivers with the outcome.
    delivered: dict[str, Any] | None = None
    error: str | None = None  # why the rules could not decide (RULES_ERROR, RULES_BUDGET)


def verdict_of(result: Any, mapping: Mapping | None = None) -> Verdict:
    """The platform's reading of a graph's result (tandem.decisions.evaluator.read)."""
    return Verdict(*read(result, mapping))


def engine_message(exc: Exception) -> str:
    """zen's errors carry a JSON head (and, raised here, a Rust backtrace); keep what a
    person can use."""
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


def _batch(inputs: Sequence[Input]) -> bytes:
    """The wrapper graph's input as JSON (payloads read from the database may be JSON text
    already), which the engine parses itself."""
    items = b", ".join(d.encode() if isinstance(d, str) else orjson.dumps(d) for d in inputs)
    return b'{"items": [' + items + b"]}"


_BUDGET = Budget()
_POOL: pebble.ProcessPool | None = None
_POOL_PID = 0
_POOL_LOCK = threading.Lock()


def configure(budget: Budget) -> None:
    """Set the rules' budget (the service does at start, from its settings); workers started
    under another budget are replaced."""
    global _BUDGET
    with _POOL_LOCK:
        if budget != _BUDGET:
            _BUDGET = budget
            _stop_workers()


def budget() -> Budget:
    return _BUDGET


def _workers() -> pebble.ProcessPool:
    """The rules workers of this process, started at first use (and again in a forked child,
    which inherits none of its parent's)."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or os.getpid() != _POOL_PID or not _POOL.active:
            _POOL = pebble.ProcessPool(
                max_workers=_BUDGET.workers or os.cpu_count() or 1,
                initializer=evaluator.start,
                initargs=(_BUDGET.memory_mb,),
                context=multiprocessing.get_context("spawn"),
            )
            _POOL_PID = os.getpid()
        return _POOL


def _stop_workers() -> None:
    global _POOL
    if _POOL is not None and os.getpid() == _POOL_PID:
        _POOL.stop()  # type: ignore[no-untyped-call]
        _POOL.join(timeout=5)
    _POOL = None


atexit.register(lambda: _stop_workers())


class PendingVerdicts:
    """Verdicts being decided by the rules workers; `result()` waits for them."""

    def __init__(self, rules: CompiledRules, inputs: list[Input], batch: Future[Any] | None):
        self._rules = rules
        self._inputs = inputs
        self._batch = batch

    def result(self) -> list[Verdict]:
        """The batch's verdicts; if it failed, ran past its deadline or never ran (the rules
        paused), each input decided alone."""
        if self._batch is not None:
            try:
                return [Verdict(*reading) for reading in self._batch.result()]
            except (RuntimeError, TimeoutError, pebble.ProcessExpired):
                pass
        return [self._rules.decide(data) for data in self._inputs]


class CompiledRules:
    """A graph, ready to run in the rules workers (each compiles it once). Thread-safe."""

    def __init__(self, graph: dict[str, Any], mapping: Mapping | None = None) -> None:
        self.graph = graph
        self.mapping = mapping or None
        self._json = json.dumps(graph)
        self._digest = hashlib.sha256(self._json.encode()).hexdigest()
        self._lock = threading.Lock()
        self._over_in_row = 0
        self._paused_until = 0.0

    def evaluate(self, data: Input) -> dict[str, Any]:
        """The graph's raw result for one input (raises RuntimeError on a failing rule, or a
        value the engine cannot take, and OverBudget past the budget)."""
        return self._respond(data, trace=False)[0]["result"]  # type: ignore[no-any-return]

    def evaluate_and_decide(self, data: Input) -> tuple[Any, Verdict]:
        """The graph's raw result for one input and the verdict read from it (a mapping that
        cannot read it: RULES_ERROR). Raises as `evaluate` does."""
        response, reading = self._respond(data, trace=False)
        if isinstance(reading, str):
            return response["result"], Verdict("refer", [RULES_ERROR], error=reading)
        return response["result"], Verdict(*reading)

    def decide_many(self, inputs: Sequence[Input]) -> list[Verdict]:
        """One verdict per input (an object, or an object as JSON text), in order. If the
        batch fails, inputs are decided again one by one and only those that fail are
        referred (RULES_ERROR, or RULES_BUDGET), with the reason."""
        return self.decide_later(inputs).result()

    def decide_later(self, inputs: Sequence[Input]) -> PendingVerdicts:
        """decide_many, begun: the caller goes on while a rules worker decides."""
        inputs = list(inputs)
        if not inputs or self._paused():
            return PendingVerdicts(self, inputs, None)
        batch = _workers().schedule(
            evaluator.decide_many,
            args=(self._digest, self._json, self.mapping, _batch(inputs)),
            timeout=_BUDGET.batch_seconds(len(inputs)),
        )
        return PendingVerdicts(self, inputs, batch)

    def decide_all(self, batches: Sequence[Sequence[Input]]) -> list[list[Verdict]]:
        """Many batches at once, on every core."""
        pending = [self.decide_later(batch) for batch in batches]
        return [each.result() for each in pending]

    def decide(self, data: Input) -> Verdict:
        """One input's verdict; the rules failing or over budget refer it, with the reason."""
        try:
            return self.evaluate_and_decide(data)[1]
        except OverBudget as exc:
            return Verdict("refer", [RULES_BUDGET], error=str(exc))
        except RuntimeError as exc:
            return Verdict("refer", [RULES_ERROR], error=engine_message(exc))

    def _respond(self, data: Input, *, trace: bool) -> tuple[dict[str, Any], Any]:
        if self._paused():
            raise OverBudget(
                f"not evaluated: the rules ran past their budget on {PAUSE_AFTER} inputs in a "
                f"row, and are paused for {PAUSE_SECONDS / 60:.0f} minutes"
            )
        limits = _BUDGET
        future = _workers().schedule(
            evaluator.evaluate_one,
            args=(self._digest, self._json, self.mapping, data, trace),
            timeout=limits.seconds,
        )
        try:
            response: tuple[dict[str, Any], Any] = future.result()
        except TimeoutError:
            self._over_budget()
            raise OverBudget(f"the rules ran past their budget of {limits.seconds:g} s") from None
        except pebble.ProcessExpired:
            self._over_budget()
            raise OverBudget(
                f"the rules needed more than their budget of {limits.memory_mb} MB of memory"
            ) from None
        with self._lock:
            self._over_in_row = 0
        return response

    def _over_budget(self) -> None:
        with self._lock:
            self._over_in_row += 1
            if self._over_in_row >= PAUSE_AFTER:
                self._over_in_row = 0
                self._paused_until = time.monotonic() + PAUSE_SECONDS

    def _paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def trace(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """What each node did for this input, in order: the rules that matched (decision
        tables) and the values the node set (not the ones it passed through). Nothing for an
        input the rules fail on: its referral's reason (RULES_ERROR, RULES_BUDGET) says so."""
        try:
            response = self._respond(data, trace=True)[0]
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
    graph, mapping = json.loads(canonical)
    return CompiledRules(graph, mapping)


def compiled(graph: dict[str, Any], mapping: Mapping | None = None) -> CompiledRules:
    """The compiled ruleset of a graph (and its outcome mapping), once per distinct content."""
    return _compiled(json.dumps([graph, mapping or None], sort_keys=True))


MAPPING_KEYS = (*evaluator.MAPPING_EXPRESSIONS, "deliver")
MAX_DELIVERED = 50


def mapping_problems(mapping: Any) -> list[Problem]:
    """What is wrong with an outcome mapping: unknown keys, no outcome expression, an
    expression that does not compile or is too long, delivered paths that are not paths."""
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        return [Problem("mapping", "an outcome mapping is an object")]
    found = [Problem(f"mapping.{key}", "unknown key") for key in mapping if key not in MAPPING_KEYS]
    if not mapping.get("outcome"):
        found.append(
            Problem("mapping.outcome", "give the expression that says approve, decline or refer")
        )
    for key in evaluator.MAPPING_EXPRESSIONS:
        text = mapping.get(key)
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > jdm.MAX_EXPRESSION_CHARS:
            found.append(
                Problem(
                    f"mapping.{key}",
                    f"an expression of at most {jdm.MAX_EXPRESSION_CHARS:,} characters",
                )
            )
            continue
        try:
            zen.compile_expression(text)
        except RuntimeError as exc:
            found.append(
                Problem(f"mapping.{key}", f"invalid expression {text!r}: {engine_message(exc)}")
            )
    deliver = mapping.get("deliver", [])
    if (
        not isinstance(deliver, list)
        or len(deliver) > MAX_DELIVERED
        or not all(isinstance(path, str) and jdm.paths_read(path) == [path] for path in deliver)
    ):
        found.append(
            Problem(
                "mapping.deliver",
                f"a list of at most {MAX_DELIVERED} paths of the result "
                "(such as 'underwriting.premium')",
            )
        )
    return found


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
