"""What runs inside a rules worker: the processes tandem.decisions.engine starts so that a
client's rules run under a budget. zen-engine has no time limit on an expression (a nested
`map` over a range runs for minutes), so the rules run in a process the engine can kill at its
deadline, with its memory capped by the kernel.

A worker compiles each graph once (by the digest of its JSON) and decides many inputs in one
engine call: a wrapper graph runs the ruleset as a sub-decision over a list, which costs about
a fifth of calling the engine once per input. This module imports nothing of Tandem's, so a
worker starts in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import resource
import signal
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import zen

_RULESET_KEY = "ruleset"
BATCH_GRAPH = json.dumps(
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
_COMPILED_MAX = 64

OUTCOMES = ("approve", "decline", "refer")
ADVICE = ("approve", "decline")  # what a referral may recommend, and what analysts decide
NO_OUTCOME = "NO_OUTCOME"  # the rules gave no valid outcome: an analyst decides

Reading = tuple[str, list[str], str | None, dict[str, Any] | None]
# outcome, reasons, recommendation, and the parts of the result delivered with the outcome

# A ruleset's outcome mapping, for rules that do not speak Tandem's words: expressions over the
# graph's result for the outcome, the reasons and the recommendation, and the paths of the
# result delivered with the outcome. Without one, the result's own `outcome`, `reasons` (or
# `reason`) and `recommendation` are read.
Mapping = dict[str, Any]
MAPPING_EXPRESSIONS = ("outcome", "reasons", "recommendation")


def read(result: Any, mapping: Mapping | None = None) -> Reading:
    """The platform's reading of a graph's result: `outcome` (approve, decline or refer),
    `reasons` (a list of codes, or one) and, on a referral, an optional `recommendation`
    (approve or decline), each taken from the result or computed by the mapping's
    expressions over it; and the result's paths the mapping delivers. A result without a
    valid outcome is referred (NO_OUTCOME). A mapping's expression that fails raises
    RuntimeError, as a failing rule does."""
    if mapping:
        with _engine_errors():
            taken = {
                key: zen.evaluate_expression(mapping[key], result)
                for key in MAPPING_EXPRESSIONS
                if mapping.get(key)
            }
        delivered = {path: _at(result, path) for path in mapping.get("deliver") or []}
    else:
        fields = result if isinstance(result, dict) else {}
        taken = {
            "outcome": fields.get("outcome"),
            "reasons": fields.get("reasons", fields.get("reason")),
            "recommendation": fields.get("recommendation"),
        }
        delivered = None
    outcome = taken.get("outcome")
    if outcome not in OUTCOMES:
        return "refer", [NO_OUTCOME], None, delivered
    reasons = taken.get("reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    if not isinstance(reasons, list):
        reasons = []
    advice = taken.get("recommendation")
    recommendation = advice if outcome == "refer" and advice in ADVICE else None
    return str(outcome), [str(r) for r in reasons if r is not None], recommendation, delivered


def _at(result: Any, path: str) -> Any:
    """The value at a dotted path of the result, or None."""
    for step in path.split("."):
        if not isinstance(result, dict):
            return None
        result = result.get(step)
    return result


class Compiled:
    """One graph, compiled: its decision for one input, and the wrapper for many."""

    def __init__(self, graph_json: str) -> None:
        content = zen.ZenDecisionContent(graph_json)
        engine = zen.ZenEngine({"loader": lambda key: content})
        self.one = engine.create_decision(content)
        self.many = engine.create_decision(zen.ZenDecisionContent(BATCH_GRAPH))


_COMPILED: OrderedDict[str, Compiled] = OrderedDict()


def start(memory_mb: int) -> None:
    """A worker's set-up: it ends at once when told to (the engine stops a worker past its
    deadline; Python's own handler would wait for the engine to return), and the kernel
    refuses it memory beyond the budget (the engine then aborts, and the worker with it).
    The engine's errors carry no Rust backtrace (with RUST_BACKTRACE set, the first error
    in a worker spent a tenth of a second, or more on a busy machine, resolving symbols:
    time taken from the input's budget)."""
    os.environ["RUST_BACKTRACE"] = os.environ["RUST_LIB_BACKTRACE"] = "0"
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _compiled(digest: str, graph_json: str) -> Compiled:
    found = _COMPILED.get(digest)
    if found is None:
        found = _COMPILED[digest] = Compiled(graph_json)
        if len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(digest)
    return found


def decide_many(
    digest: str, graph_json: str, mapping: Mapping | None, batch: bytes
) -> list[Reading]:
    """The reading of the graph's result for each input of `batch` (`{"items": [...]}` as
    JSON text): read here, so that only the readings travel back."""
    with _engine_errors():
        results = _compiled(digest, graph_json).many.evaluate(batch)["result"]["results"]
    return [read(result, mapping) for result in results]


def evaluate_one(
    digest: str, graph_json: str, mapping: Mapping | None, data: Any, trace: bool
) -> tuple[Any, Reading | str]:
    """The engine's whole response for one input (with each node's trace when asked), and
    its reading (or why the mapping could not read it)."""
    with _engine_errors():
        response = _compiled(digest, graph_json).one.evaluate(data, {"trace": trace})
    try:
        return response, read(response["result"], mapping)
    except RuntimeError as exc:
        return response, str(exc)


@contextmanager
def _engine_errors() -> Iterator[None]:
    """zen-engine raises RuntimeError when a rule fails, but a plain Exception for an input
    it cannot take (a number beyond 64-bit floats): both are the rules failing on the input,
    handed back as RuntimeError with the engine's message (the part before its backtrace)."""
    try:
        yield
    except Exception as exc:
        raise RuntimeError(str(exc).split("Stack backtrace")[0].strip()) from None
