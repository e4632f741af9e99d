"""What people read instead of the codes the rules speak: a version's reasons catalogue (each
reason code with a label and a description), and a decision table's rules by their
description, or by their conditions when they have none.

The rules define their reasons: a catalogue is uploaded with a version (`Ruleset.reasons`,
`{code: {"label": ..., "description": ...}}`), checked here. A code no catalogue knows reads
as itself in words (`SCORE_LIMIT`: "Score limit"); the platform's own codes (an outcome the
rules did not give, a judgment not confirmed) have labels of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.decisions.models import Decision, Ruleset

MAX_REASONS = 500
MAX_CODE = 100
MAX_LABEL = 120
MAX_DESCRIPTION = 1_000

# Codes Tandem itself gives (tandem.decisions.engine, evaluator, referrals, backtest).
PLATFORM: dict[str, tuple[str, str]] = {
    "NO_OUTCOME": (
        "No outcome from the rules",
        "The rules gave no outcome Tandem reads (approve, decline or refer): an analyst decides.",
    ),
    "RULES_ERROR": (
        "The rules failed",
        "The rules failed on this input, or their result could not be read: an analyst decides.",
    ),
    "RULES_BUDGET": (
        "The rules took too long",
        "The rules did not decide within their time or memory budget: an analyst decides.",
    ),
    "NOT_CONFIRMED": (
        "Not confirmed",
        "A second analyst did not confirm the first judgment: the item is judged again.",
    ),
    "(none)": ("No reason given", "The rules decided without naming a reason."),
}


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    description: str | None = None

    @property
    def known(self) -> bool:
        """Whether a catalogue (or Tandem) says what the code means, beyond its words."""
        return self.description is not None


def in_words(code: str) -> str:
    """A code no catalogue knows, as words: "SCORE_LIMIT" -> "Score limit"."""
    text = code.replace("_", " ").strip()
    if text.isupper():
        text = text.lower()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Catalogue:
    """Reason codes with their labels and descriptions; `of` any code, known or not."""

    entries: Mapping[str, Reason] = field(default_factory=dict)

    def of(self, code: object) -> Reason:
        text = str(code)
        found = self.entries.get(text)
        if found is not None:
            return found
        if text in PLATFORM:
            label, description = PLATFORM[text]
            return Reason(text, label, description)
        return Reason(text, in_words(text))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Reason]:
        return iter(self.entries.values())


def catalogue(*sources: Mapping[str, Any] | None) -> Catalogue:
    """One catalogue of stored ones ({code: {label, description}}), a later one's entry
    winning over an earlier one's."""
    entries: dict[str, Reason] = {}
    for source in sources:
        for code, entry in (source or {}).items():
            if isinstance(entry, Mapping) and entry.get("label"):
                entries[code] = Reason(code, str(entry["label"]), entry.get("description") or None)
    return Catalogue(entries)


def merged(*catalogues: Catalogue) -> Catalogue:
    """One catalogue of several, a later one's entry winning."""
    entries: dict[str, Reason] = {}
    for each in catalogues:
        entries.update(each.entries)
    return Catalogue(entries)


def problems(reasons: Any) -> list[dict[str, str]]:
    """What is wrong with an uploaded catalogue, each at its place ("reasons.CODE.label")."""
    if reasons is None:
        return []
    if not isinstance(reasons, Mapping):
        return [{"field": "reasons", "message": "a catalogue is an object of codes"}]
    if len(reasons) > MAX_REASONS:
        return [
            {
                "field": "reasons",
                "message": f"{len(reasons):,} codes; at most {MAX_REASONS:,} are allowed",
            }
        ]
    found = []
    for code, entry in reasons.items():
        where = f"reasons.{code}"
        if not isinstance(code, str) or not code.strip() or code != code.strip():
            found.append({"field": where, "message": "a code is text without spaces around it"})
        elif len(code) > MAX_CODE:
            found.append({"field": where, "message": f"a code is at most {MAX_CODE} characters"})
        if not isinstance(entry, Mapping):
            found.append(
                {"field": where, "message": "give a label and, if you like, a description"}
            )
            continue
        unknown = sorted(set(entry) - {"label", "description"})
        found += [{"field": f"{where}.{key}", "message": "unknown key"} for key in unknown]
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            found.append({"field": f"{where}.label", "message": "give the label people read"})
        elif len(label) > MAX_LABEL:
            found.append({"field": f"{where}.label", "message": f"at most {MAX_LABEL} characters"})
        description = entry.get("description")
        if description is not None and not isinstance(description, str):
            found.append({"field": f"{where}.description", "message": "a description is text"})
        elif description is not None and len(description) > MAX_DESCRIPTION:
            found.append(
                {
                    "field": f"{where}.description",
                    "message": f"at most {MAX_DESCRIPTION:,} characters",
                }
            )
    return found


def cleaned(reasons: Mapping[str, Any] | None) -> dict[str, dict[str, str]] | None:
    """A checked catalogue as it is stored: labels and descriptions trimmed, empty
    descriptions left out; None for none."""
    if not reasons:
        return None
    stored = {}
    for code, entry in reasons.items():
        kept = {"label": str(entry["label"]).strip()}
        description = (entry.get("description") or "").strip()
        if description:
            kept["description"] = description
        stored[code] = kept
    return stored


def of_ruleset(ruleset: Ruleset | None) -> Catalogue:
    return catalogue(ruleset.reasons if ruleset else None)


def of_process(session: Session, client_id: int, process_id: uuid.UUID) -> Catalogue:
    """Every version's catalogue of the process, a newer version's entry winning: for
    measures and decisions across versions."""
    stored = session.scalars(
        select(Ruleset.reasons)
        .where(
            Ruleset.client_id == client_id,
            Ruleset.process_id == process_id,
            Ruleset.reasons.is_not(None),
        )
        .order_by(Ruleset.version)
    )
    return catalogue(*stored)


def of_decisions(session: Session, decisions: Iterable[Decision]) -> Catalogue:
    """The catalogues of the versions that made these decisions (a newer version's entry
    winning)."""
    keys = {(d.client_id, d.ruleset_id) for d in decisions if d.ruleset_id is not None}
    if not keys:
        return Catalogue()
    versions = [
        (ruleset.version, ruleset.reasons)
        for ruleset in (session.get(Ruleset, key) for key in keys)
        if ruleset is not None
    ]
    return catalogue(*(reasons for _, reasons in sorted(versions, key=lambda v: v[0])))


def ruleset_of(session: Session, decision: Decision | None) -> Ruleset | None:
    """The version that made a decision, if the rules made it."""
    if decision is None or decision.ruleset_id is None:
        return None
    return session.get(Ruleset, (decision.client_id, decision.ruleset_id))


# -- a decision table's rules in words ----------------------------------------------------------


def rule_names(graph: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """{(node name, rule id): the rule in words} of every decision table: "rule 3: lives
    abroad" by its description, or by its conditions when it has none ("rule 3: Abroad
    true"; "rule 7: anything else" for a rule of no condition)."""
    names: dict[tuple[str, str], str] = {}
    for node in graph.get("nodes") or []:
        content = node.get("content") if isinstance(node, Mapping) else None
        if node.get("type") != "decisionTableNode" or not isinstance(content, Mapping):
            continue
        node_name = str(node.get("name") or node.get("id"))
        columns = [
            (c.get("id"), str(c.get("name") or c.get("field") or c.get("id")))
            for c in content.get("inputs") or []
            if isinstance(c, Mapping)
        ]
        for number, rule in enumerate(content.get("rules") or [], start=1):
            if not isinstance(rule, Mapping) or "_id" not in rule:
                continue
            described = str(rule.get("_description") or "").strip()
            if not described:
                conditions = [
                    f"{name} {str(rule.get(column_id)).strip()}"
                    for column_id, name in columns
                    if str(rule.get(column_id) or "").strip()
                ]
                described = ", ".join(conditions) or "anything else"
            names[(node_name, str(rule["_id"]))] = f"rule {number}: {described}"
    return names


def readable_trace(
    graph: Mapping[str, Any], trace: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A trace (tandem.decisions.engine.CompiledRules.trace) whose matched rules given by
    their id ("r3", or the editor's UUIDs) read as the rule in words; rules matched by their
    description stay as they are."""
    names = rule_names(graph)
    readable = []
    for step in trace:
        matched = step.get("matched")
        if matched:
            node = str(step.get("node"))
            step = {**step, "matched": [names.get((node, str(m)), m) for m in matched]}
        readable.append(dict(step))
    return readable
