"""JDM (GoRules JSON Decision Model) graphs: building them, and reading what they need.

Pure: no engine and no I/O. The engine (zen-engine) evaluates what is built here; this module
only knows the shape of the JSON, so that tables imported from spreadsheets and the demo
ruleset are made the same way, and uploads can be checked before anything runs them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
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
# Node types zen-engine runs that a ruleset may not hold, and why.
REFUSED_NODES = {
    "functionNode": (
        "function nodes are refused: their JavaScript may import zen's `http` module and make "
        "requests from the server to any address"
    ),
    "decisionNode": "sub-decisions are refused: a ruleset is one graph, with no other to load",
    "customNode": "custom nodes are refused: they need code of the engine's host, which has none",
}


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


def problems(graph: Any, input_fields: set[str] | None) -> list[Problem]:
    """Structural problems of an uploaded graph, and fields it reads that the process input
    form does not have (nor a node produces; not checked when `input_fields` is None). The
    engine's own checks (cycles, expression syntax) come on top of these."""
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
        if node.get("type") in REFUSED_NODES:
            found.append(Problem(where, REFUSED_NODES[node["type"]]))
        elif node.get("type") not in NODE_TYPES:
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
    # No output node is needed: the result is then what the last nodes produce.
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
    if not found and input_fields is not None:
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
        yield from _expressions_of_node(node)


def _expressions_of_node(node: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    content = _content(node)
    where = _where(node)
    kind = node.get("type")
    if kind == "decisionTableNode":
        # A column with a field holds unary tests of it; one without, whole expressions.
        columns = {
            c["id"]: (c.get("name") or c["id"], bool((c.get("field") or "").strip()))
            for c in content["inputs"]
        }
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


_TOKENS = re.compile(
    r"""(?P<text>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<template>`(?:[^`\\]|\\.)*`)
      | (?P<number>[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<name>[A-Za-z_$#][A-Za-z0-9_$]*)
      | (?P<punct>\.\.|\?\.|\S)""",
    re.VERBOSE,
)
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})


def paths_read(expression: str) -> list[str]:
    """The input paths an expression of zen's language reads, as `a.b.c`, in order: member
    paths, function arguments, placeholders of template strings; not function names, object
    keys, keywords, `#` (a closure's element) nor `$` (the node's own values, a table
    column's value)."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKENS.finditer(expression)]
    paths: list[str] = []
    brackets: list[str] = []
    for n, (kind, text) in enumerate(tokens):
        before = tokens[n - 1][1] if n else ""
        after = tokens[n + 1][1] if n + 1 < len(tokens) else ""
        if kind == "template":
            for inner in _PLACEHOLDER.findall(text):
                paths.extend(paths_read(inner))
        elif kind == "punct" and text in "([{":
            brackets.append(text)
        elif kind == "punct" and text in ")]}" and brackets:
            brackets.pop()
        if kind != "name" or before in (".", "?.") or after == "(":
            continue
        if text[0] in "$#" or text in _KEYWORDS:
            continue
        if brackets[-1:] == ["{"] and before in ("{", ",") and after == ":":
            continue  # an object literal's key
        path = [text]
        for k in range(n + 1, len(tokens) - 1, 2):
            if tokens[k][1] not in (".", "?.") or tokens[k + 1][0] != "name":
                break
            path.append(tokens[k + 1][1])
        paths.append(".".join(path))
    return paths


def _content(node: dict[str, Any]) -> dict[str, Any]:
    content = node.get("content")
    return content if isinstance(content, dict) else {}


def _root(path: str) -> str:
    return path.strip().split(".")[0].split("[")[0]


def _scoped(content: dict[str, Any]) -> bool:
    """A node that reads one field of the input (`inputField`): its expressions read that
    field's members (or, in a loop, its elements' members), not the input's."""
    return bool(content.get("inputField"))


def _reads(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, path) for every input path a node reads, relative to its input field if it
    has one. A table's input column reads its field (an expression); its cells read what
    they name beside `$`, the column's value."""
    content = _content(node)
    where = _where(node)
    kind = node["type"]
    texts: list[tuple[str, str]] = []
    if kind == "decisionTableNode":
        for column in content["inputs"]:
            name = column.get("name") or column.get("id")
            if column.get("field"):
                texts.append((f"{where}, column {name!r}", column["field"]))
    for place, text, _ in _expressions_of_node(node):
        texts.append((place, text))
    for place, text in texts:
        for path in paths_read(text):
            yield place, path


def _writes(node: dict[str, Any]) -> set[str]:
    """The paths a node writes: expression keys and table output fields, under the node's
    output path if it has one."""
    content = _content(node)
    if node["type"] == "expressionNode":
        keys = [str(e.get("key", "")).strip() for e in content["expressions"]]
    elif node["type"] == "decisionTableNode":
        keys = [str(c.get("field", "")).strip() for c in content["outputs"]]
    else:
        return set()
    under = str(content.get("outputPath") or "").strip()
    if under:  # the node writes the output path whole (a collecting table: a list there)
        return {under, *(f"{under}.{key}" for key in keys if key)}
    return {key for key in keys if key}


def _produced(nodes: dict[str, dict[str, Any]]) -> set[str]:
    """The paths the graph's nodes write."""
    return {path for node in nodes.values() for path in _writes(node)}


def _upstream(graph: dict[str, Any]) -> dict[str, set[str]]:
    """Each node's ancestors along the graph's edges."""
    parents: dict[str, set[str]] = {}
    for edge in graph.get("edges", []):
        if isinstance(edge, dict):
            parents.setdefault(str(edge.get("targetId")), set()).add(str(edge.get("sourceId")))
    found: dict[str, set[str]] = {}

    def ancestors(node_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if node_id not in found:
            direct = parents.get(node_id, set()) - seen
            found[node_id] = set(direct).union(*(ancestors(p, seen | {node_id}) for p in direct))
        return found[node_id]

    return {str(n["id"]): ancestors(str(n["id"])) for n in graph["nodes"] if "id" in n}


def _written(path: str, produced: set[str]) -> bool:
    """Whether a node writes the path read, or a path it lies under."""
    return any(path == p or path.startswith(p + ".") for p in produced)


def _unknown_fields(nodes: dict[str, dict[str, Any]], input_fields: set[str]) -> Iterator[Problem]:
    """Paths an expression reads whose top-level field is neither in the input form nor
    written by a node of the graph."""
    known = set(input_fields) | {_root(path) for path in _produced(nodes)}
    reported: set[tuple[str, str]] = set()
    for node in nodes.values():
        content = _content(node)
        if _scoped(content):
            reads: Iterable[tuple[str, str]] = [
                (_where(node), path) for path in paths_read(str(content["inputField"]))
            ]
        else:
            reads = _reads(node)
        for where, path in reads:
            root = _root(path)
            if root not in known and (where, root) not in reported:
                reported.add((where, root))
                yield Problem(
                    where, f"reads field {path!r}, which the process input form does not have"
                )


def draft_form(graph: dict[str, Any]) -> dict[str, Any]:
    """A process input form (JSON Schema) for a graph: the schema its input node carries if
    it has one (GoRules' editor keeps one), else every field the graph reads that no node
    writes, nested as read (`a.b` an object `a` with a member `b`; the members a loop reads
    as the items of an array), typed by how the graph compares it (with numbers: a number;
    with quoted text: a string; with true or false: a boolean), untyped otherwise."""
    nodes = {n["id"]: n for n in graph["nodes"] if isinstance(n, dict) and "id" in n}
    for node in nodes.values():
        schema = _content(node).get("schema") if node.get("type") == "inputNode" else None
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                schema = None
        if isinstance(schema, dict) and schema.get("type") == "object" and schema.get("properties"):
            return schema
    upstream = _upstream(graph)
    form: dict[str, Any] = {"type": "object", "properties": {}}
    for node in nodes.values():
        content = _content(node)
        # What nodes before this one write is no input (a graph read in the wrong order
        # still drafts: the engine runs it in its edges' order).
        produced = {
            p for a in upstream.get(node["id"], set()) if a in nodes for p in _writes(nodes[a])
        }
        prefix: list[str] = []
        if _scoped(content):
            prefix = [
                *str(content["inputField"]).split("."),
                *(["[]"] if content.get("executionMode") == "loop" else []),
            ]
        for _, path in _reads(node):
            if not prefix and _written(path, produced):
                continue
            _add(form, [*prefix, *path.split(".")], _type_of(node, path))
        for path in paths_read(str(content.get("inputField") or "")):
            if not _written(path, produced):
                kind = "array" if content.get("executionMode") == "loop" else "object"
                _add(form, path.split("."), kind)
    return form


def _add(form: dict[str, Any], steps: list[str], kind: str | None) -> None:
    at = form
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        if step == "[]":
            at["type"] = "array"
            at = at.setdefault("items", {"type": "object", "properties": {}})
            continue
        if at.get("type") != "object":
            at["type"] = "object"
        properties = at.setdefault("properties", {})
        nxt = steps[n + 1] if not last else None
        at = properties.setdefault(step, {})
        if last:
            if kind == "date" and "type" not in at:
                at.update(type="string", format="date")
            elif kind and "type" not in at:
                at["type"] = kind
        elif nxt != "[]" and at.get("type") not in (None, "object"):
            at.clear()


# Functions of zen's language whose first argument is a list.
_OVER_LISTS = ("some", "all", "none", "one", "map", "filter", "count", "flatMap", "sum", "avg")
_NUMBER_TEST = re.compile(r"^\s*(?:[<>]=?|==|!=)?\s*-?[0-9][0-9_.]*\s*$|^\s*[\[(]\s*-?[0-9]")


def _type_of(node: dict[str, Any], path: str) -> str | None:
    """How the node uses `path`: in a table column of that field, by its cells; elsewhere,
    by what it is compared with (a number, quoted text, true or false), read as a date
    (`date(...)`), gone over as a list (`some(...)`, `map(...)`, ...) or reckoned with (`-`,
    `*`, `/`, `%`: a number)."""
    content = _content(node)
    texts = [text for _, text, _ in _expressions_of_node(node)]
    if node["type"] == "decisionTableNode":
        for column in content["inputs"]:
            field = (column.get("field") or "").strip()
            if field == path:
                cells = [str(rule.get(column["id"], "")).strip() for rule in content["rules"]]
                kind = _type_of_cells([c for c in cells if c])
                if kind:
                    return kind
            elif field:
                texts.append(field)
    named = rf"(?<![\w.$#]){re.escape(path)}(?![\w(])"
    compared = re.compile(rf"{named}\s*(?:==|!=|<=|>=|<|>)\s*(\S+)")
    dated = re.compile(rf"\bd(?:ate)?\(\s*{named}")
    reckoned = re.compile(rf"{named}\s*[-*/%]|[-*/%]\s*{named}")
    listed = re.compile(rf"\b(?:{'|'.join(_OVER_LISTS)})\(\s*{named}")
    for text in texts:
        if dated.search(text):
            return "date"
        if listed.search(text):
            return "array"
        for other in compared.findall(text):
            kind = _type_of_cells([other])
            if kind:
                return kind
        if reckoned.search(text):
            return "number"
    return None


def _type_of_cells(cells: list[str]) -> str | None:
    for cell in cells:
        if cell in ("true", "false"):
            return "boolean"
        if cell[:1] in ("'", '"'):
            return "string"
        if _NUMBER_TEST.match(cell):
            return "number"
    return None
