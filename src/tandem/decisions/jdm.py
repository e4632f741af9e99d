"""JDM (GoRules JSON Decision Model) graphs: building them, and reading what they need.

Pure: no engine and no I/O. The engine (zen-engine) evaluates what is built here; this module
only knows the shape of the JSON, so that tables imported from spreadsheets and the demo
ruleset are made the same way, and uploads can be checked before anything runs them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

HIT_POLICIES = ("first", "collect")
# What one upload may hold, so that checking, storing and handing a graph to the rules workers
# stays cheap. (The time an evaluation may take is bounded apart: tandem.decisions.engine.)
MAX_NODES = 500
MAX_EDGES = 2_000
MAX_TABLE_RULES = 20_000
MAX_EXPRESSION_CHARS = 2_000
NODE_TYPES = (
    "inputNode",
    "outputNode",
    "decisionTableNode",
    "expressionNode",
    "switchNode",
)


@dataclass(frozen=True)
class Column:
    name: str
    field: str  # the input field a condition reads, or the output field a value sets


@dataclass(frozen=True)
class Rule:
    """One row of a decision table: a unary test per input column ('' matches anything)
    and an expression per output column."""

    conditions: Sequence[str]
    outputs: Sequence[str]
    description: str = ""


@dataclass
class Graph:
    """Builds a graph node by node; `chain` links nodes in the order given."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def add(self, node_id: str, node_type: str, name: str, content: Any = None) -> str:
        node: dict[str, Any] = {
            "id": node_id,
            "type": node_type,
            "name": name,
            "position": {"x": 240 * len(self.nodes), "y": 0},
        }
        if content is not None:
            node["content"] = content
        self.nodes.append(node)
        return node_id

    def link(self, source: str, target: str, handle: str | None = None) -> None:
        edge = {"id": f"{source}->{target}", "sourceId": source, "targetId": target, "type": "edge"}
        if handle is not None:
            edge["sourceHandle"] = handle
            edge["id"] += f"@{handle}"
        self.edges.append(edge)

    def chain(self, *node_ids: str) -> None:
        for source, target in itertools.pairwise(node_ids):
            self.link(source, target)

    def as_json(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges}


def table(
    inputs: Sequence[Column],
    outputs: Sequence[Column],
    rules: Sequence[Rule],
    *,
    hit_policy: str = "first",
    output_path: str | None = None,
) -> dict[str, Any]:
    """The content of a decisionTableNode. With `output_path`, the table's result is put at
    that path beside its input (pass-through), so later nodes see both."""
    if hit_policy not in HIT_POLICIES:
        raise ValueError(f"hit policy must be one of {', '.join(HIT_POLICIES)}, not {hit_policy!r}")
    input_ids = [f"in{i}" for i in range(len(inputs))]
    output_ids = [f"out{i}" for i in range(len(outputs))]
    rows = []
    for n, rule in enumerate(rules, start=1):
        if len(rule.conditions) != len(inputs) or len(rule.outputs) != len(outputs):
            raise ValueError(
                f"rule {n} has {len(rule.conditions)} conditions and {len(rule.outputs)} outputs;"
                f" the table has {len(inputs)} input and {len(outputs)} output columns"
            )
        row: dict[str, Any] = {"_id": f"r{n}", "_description": rule.description}
        row.update(zip(input_ids, rule.conditions, strict=True))
        row.update(zip(output_ids, rule.outputs, strict=True))
        rows.append(row)
    content: dict[str, Any] = {
        "hitPolicy": hit_policy,
        "inputs": [
            {"id": i, "name": c.name, "field": c.field}
            for i, c in zip(input_ids, inputs, strict=True)
        ],
        "outputs": [
            {"id": i, "name": c.name, "field": c.field}
            for i, c in zip(output_ids, outputs, strict=True)
        ],
        "rules": rows,
    }
    if output_path:
        content.update(outputPath=output_path, passThrough=True, executionMode="single")
    return content


def expressions(pairs: Sequence[tuple[str, str]], *, pass_through: bool = True) -> dict[str, Any]:
    """The content of an expressionNode: output key -> expression."""
    return {
        "expressions": [
            {"id": f"e{i}", "key": key, "value": value} for i, (key, value) in enumerate(pairs)
        ],
        "passThrough": pass_through,
        "executionMode": "single",
    }


def switch(conditions: Sequence[tuple[str, str]], hit_policy: str = "first") -> dict[str, Any]:
    """The content of a switchNode: (statement id, condition) in order; '' is 'otherwise'.
    Edges leave the node by the statement id as their source handle."""
    return {
        "hitPolicy": hit_policy,
        "statements": [{"id": sid, "condition": cond} for sid, cond in conditions],
    }


# -- reading a graph ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong with a graph, and where: `where` names the node (and rule, column)."""

    where: str
    message: str


def problems(graph: Any, input_fields: set[str]) -> list[Problem]:
    """Structural problems of an uploaded graph, and fields it reads that the process input
    form does not have (nor an earlier node produces). The engine's own checks (cycles,
    expression syntax) come on top of these."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        return [
            Problem("graph", "a JDM graph is an object with a 'nodes' list and an 'edges' list")
        ]
    if not isinstance(graph.get("edges"), list):
        return [Problem("graph", "the graph has no 'edges' list")]
    for kind, count, most in (
        ("nodes", len(graph["nodes"]), MAX_NODES),
        ("edges", len(graph["edges"]), MAX_EDGES),
    ):
        if count > most:
            return [
                Problem("graph", f"the graph has {count:,} {kind}; at most {most:,} are allowed")
            ]
    found: list[Problem] = []
    nodes: dict[str, dict[str, Any]] = {}
    for n, node in enumerate(graph["nodes"], start=1):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            found.append(Problem(f"node {n}", "every node needs a string 'id'"))
            continue
        where = _where(node)
        if node.get("type") not in NODE_TYPES:
            found.append(
                Problem(
                    where,
                    f"unknown node type {node.get('type')!r}; supported: {', '.join(NODE_TYPES)}",
                )
            )
        if node["id"] in nodes:
            found.append(Problem(where, "two nodes share this id"))
        nodes[node["id"]] = node
    kinds = [node.get("type") for node in nodes.values()]
    if kinds.count("inputNode") != 1:
        found.append(Problem("graph", "a graph needs exactly one inputNode"))
    if "outputNode" not in kinds:
        found.append(Problem("graph", "a graph needs an outputNode"))
    for n, edge in enumerate(graph["edges"], start=1):
        for end in ("sourceId", "targetId"):
            if not isinstance(edge, dict) or edge.get(end) not in nodes:
                found.append(Problem(f"edge {n}", f"its {end} names no node of the graph"))
    for node in nodes.values():
        found.extend(_content_problems(node))
    if not found:
        found.extend(
            Problem(
                where,
                f"the expression is {len(text):,} characters long; at most "
                f"{MAX_EXPRESSION_CHARS:,} are allowed",
            )
            for where, text, _ in expressions_of(graph)
            if len(text) > MAX_EXPRESSION_CHARS
        )
    if not found:
        found.extend(_unknown_fields(nodes, input_fields))
    return found


def _where(node: dict[str, Any]) -> str:
    return f"node {node.get('name') or node['id']!r}"


def _content_problems(node: dict[str, Any]) -> Iterator[Problem]:
    content = node.get("content")
    kind = node.get("type")
    where = _where(node)
    if kind == "decisionTableNode":
        if not isinstance(content, dict):
            yield Problem(where, "a decision table needs content")
            return
        if content.get("hitPolicy") not in HIT_POLICIES:
            yield Problem(
                where, f"hit policy {content.get('hitPolicy')!r} is not one of first, collect"
            )
        for key in ("inputs", "outputs", "rules"):
            if not isinstance(content.get(key), list):
                yield Problem(where, f"a decision table needs a '{key}' list")
        rules = content.get("rules")
        if isinstance(rules, list) and len(rules) > MAX_TABLE_RULES:
            yield Problem(
                where,
                f"the table has {len(rules):,} rules; at most {MAX_TABLE_RULES:,} are allowed",
            )
    elif kind == "expressionNode":
        if not isinstance(content, dict) or not isinstance(content.get("expressions"), list):
            yield Problem(where, "an expression node needs an 'expressions' list")
    elif kind == "switchNode" and (
        not isinstance(content, dict) or not isinstance(content.get("statements"), list)
    ):
        yield Problem(where, "a switch node needs a 'statements' list")


def expressions_of(graph: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """Every expression in the graph: (where, text, is a unary test)."""
    for node in graph["nodes"]:
        content = node.get("content") or {}
        where = _where(node)
        kind = node.get("type")
        if kind == "decisionTableNode":
            columns = {c["id"]: (c.get("name") or c["id"], True) for c in content["inputs"]}
            columns.update({c["id"]: (c.get("name") or c["id"], False) for c in content["outputs"]})
            for n, rule in enumerate(content["rules"], start=1):
                for column_id, (name, unary) in columns.items():
                    text = rule.get(column_id)
                    if isinstance(text, str) and text.strip():
                        yield f"{where}, rule {n}, column {name!r}", text, unary
        elif kind == "expressionNode":
            for expression in content["expressions"]:
                yield f"{where}, expression {expression.get('key')!r}", expression["value"], False
        elif kind == "switchNode":
            for n, statement in enumerate(content["statements"], start=1):
                if statement.get("condition", "").strip():
                    yield f"{where}, condition {n}", statement["condition"], False


_ROOT = re.compile(r"^[A-Za-z_]\w*")


def _unknown_fields(nodes: dict[str, dict[str, Any]], input_fields: set[str]) -> Iterator[Problem]:
    """Decision-table input columns whose field is neither in the input form nor produced by
    another node (a table's output path, an expression's key)."""
    produced = set(input_fields)
    for node in nodes.values():
        content = node.get("content") or {}
        if content.get("outputPath"):
            produced.add(_root(content["outputPath"]))
        for expression in (
            content.get("expressions", []) if node["type"] == "expressionNode" else []
        ):
            produced.add(_root(expression.get("key", "")))
        if node["type"] == "decisionTableNode":
            produced.update(_root(c.get("field", "")) for c in content["outputs"])
    for node in nodes.values():
        if node["type"] != "decisionTableNode":
            continue
        for column in node["content"]["inputs"]:
            name = column.get("field") or ""
            if name and _root(name) not in produced:
                yield Problem(
                    f"{_where(node)}, column {column.get('name') or column.get('id')!r}",
                    f"reads field {name!r}, which the process input form does not have",
                )


def _root(path: str) -> str:
    match = _ROOT.match(path.strip())
    return match.group(0) if match else path
