"""Only the owner of work item changes (tandem.work.transitions, with the hot path's
statements it executes) writes a work item's state: read from every module's source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tandem

SOURCE = Path(tandem.__file__).parent
OWNER = {"work/transitions.py", "work/statements.py"}
ITEM_TABLES = {"items", "WorkItem", "items_table"}
RAW_WRITE = re.compile(r"\b(UPDATE|INSERT\s+INTO)\s+work_items\b", re.I)
# Other things with a state of their own (the service desk's conversations, a help article
# taken down, a survey replaced, a roster published or superseded): assigning theirs writes
# no work item.
NOT_ITEMS = {"conversation", "taken_down", "standing", "roster", "earlier_roster"}


def _table(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        return _table(node.value)
    if isinstance(node, ast.Call) and node.args:  # cast(Table, WorkItem.__table__)
        return _table(node.args[-1])
    return None


def state_writes(tree: ast.AST) -> list[str]:
    """Places in a module that write work_items.state: inserts of items (a new item has a
    state), updates whose values name `state`, assignments to an item's `.state`, new
    WorkItem objects, bulk inserts of items, and raw SQL inserting or updating items."""
    found = []
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name, args = node.func.id, node.args
            if name == "insert" and args and _table(args[0]) in ITEM_TABLES:
                found.append(f"{where}: insert into work_items")
            if name == "WorkItem":
                found.append(f"{where}: a new WorkItem")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names_state = any(k.arg == "state" for k in node.keywords) or any(
                isinstance(a, ast.Dict)
                and any(isinstance(k, ast.Constant) and k.value == "state" for k in a.keys)
                for a in node.args
            )
            if node.func.attr == "values" and names_state and _updates_items(node.func.value):
                found.append(f"{where}: update of work_items.state")
            if node.func.attr == "of" and any(_table(a) in ITEM_TABLES for a in node.args[1:2]):
                found.append(f"{where}: bulk insert into work_items")
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "state"
                    and not (isinstance(target.value, ast.Name) and target.value.id in NOT_ITEMS)
                ):
                    found.append(f"{where}: assignment to .state")
        if isinstance(node, ast.JoinedStr):  # an f-string: its literal parts
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if RAW_WRITE.search(text):
            found.append(f"{where}: SQL writing work_items")
    return found


def _updates_items(node: ast.expr) -> bool:
    """Whether a chain of calls starts with update(<work items>)."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "update"
        and bool(node.args)
        and _table(node.args[0]) in ITEM_TABLES
    )


def test_only_the_owner_writes_work_item_states() -> None:
    offenders = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative in OWNER or relative.startswith(("bench/", "migrations/")):
            continue  # the benchmarks' raw ceiling runs the owner's statements without it
        writes = state_writes(ast.parse(path.read_text()))
        if writes:
            offenders[relative] = writes
    assert offenders == {}


def test_the_reader_finds_the_owners_writes() -> None:
    """The check above can fail: it finds each kind of write where they are."""
    transitions = state_writes(ast.parse((SOURCE / "work/transitions.py").read_text()))
    statements = state_writes(ast.parse((SOURCE / "work/statements.py").read_text()))
    kinds = {write.split(": ", 1)[1] for write in transitions + statements}
    assert {
        "insert into work_items",
        "update of work_items.state",
        "bulk insert into work_items",
        "SQL writing work_items",
    } <= kinds
    planted = "def f(item):\n    item.state = 'delivered'\n"
    assert state_writes(ast.parse(planted)) == ["line 2: assignment to .state"]
