"""Where the values of a rules trace come from, pure: which personal categories of the input
each key a graph sets may carry, so that a trace shows a reader only what the reader's payload
shows (tandem.vault.masking.mask_trace)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_]\w*")
# `$root` or `$nodes` taken whole (keys($root), $root[...], $nodes.in...), or a bare `$`:
# the expression may read any field.
_WHOLE = re.compile(r"\$nodes\b|\$(?:root\b)?(?!\s*\.\s*[A-Za-z_]|\w)")


def personal_sources(graph: dict[str, Any], fields: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """{key: personal categories its value may come from} for the personal input fields
    (`fields`, {field: category}) and every key a node of the graph sets from one of them,
    directly or through other keys: an expression's key, a decision table's output field
    (or its output path), from any name its expression (or the node's loop input) mentions.
    Conservative: a name is any identifier in the text, string literals included. Not
    counted: which rule matched (the verdict and its reasons are the rules' to show)."""
    flows: list[tuple[str, str]] = []  # (key set, text it is computed from)
    for node in graph.get("nodes", []):
        content = node.get("content") or {}
        loop = str(content.get("inputField") or "")
        if node.get("type") == "expressionNode":
            for expression in content.get("expressions", []):
                flows.append((_root_of(expression.get("key")), f"{expression.get('value')} {loop}"))
        elif node.get("type") == "decisionTableNode":
            for column in content.get("outputs", []):
                key = _root_of(content.get("outputPath") or column.get("field"))
                for rule in content.get("rules", []):
                    flows.append((key, f"{rule.get(column.get('id'), '')} {loop}"))
    sources = {name: frozenset({category}) for name, category in fields.items()}
    everything = frozenset(fields.values())
    changed = True
    while changed:  # until no key gains a category: sets only grow, so this ends
        changed = False
        for key, text in flows:
            came = (
                everything
                if _WHOLE.search(text)
                else frozenset().union(*(sources.get(name, ()) for name in _NAME.findall(text)))
            )
            if not came <= sources.get(key, frozenset()):
                sources[key] = sources.get(key, frozenset()) | came
                changed = True
    return sources


def _root_of(path: Any) -> str:
    """The top-level key a node's output path or field sets ("applicant.name": "applicant")."""
    match = _NAME.match(str(path or "").strip())
    return match.group(0) if match else str(path)
