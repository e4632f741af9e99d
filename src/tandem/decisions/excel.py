"""Decision tables kept in spreadsheets, as clients keep underwriting criteria.

The first sheet holds one rule per row. Header cells name the columns: `in:<field>` for an
input condition, `out:<field>` for an output, `description` for a note on the rule. Input
cells are unary tests (`> 50`, `[18..65]`, `true`); a bare word or a comma-separated list of
bare words is a text match (`US` -> `"US"`, `US, CA` -> `"US", "CA"`); an empty cell matches
anything. Output cells are values: numbers and booleans as they are, text as text, and a
cell starting with `[`, `{` or a quote as an expression (`["HIGH_RISK"]`).

A sheet named `Reasons`, if the workbook has one (not first), is the version's reasons
catalogue (tandem.decisions.reasons): a header row `code`, `label`, `description`, then one
reason code per row.
"""

from __future__ import annotations

import io
import re
from typing import Any, BinaryIO

import openpyxl

from tandem.core.cells import text_cells
from tandem.core.errors import InvalidInput
from tandem.decisions.jdm import Column, Graph, Rule, table

_BARE_WORDS = re.compile(r"^[A-Za-z_][\w-]*(\s*,\s*[A-Za-z_][\w-]*)*$")
_KEYWORDS = {"true", "false", "null"}
_SIMPLE_TEXT = re.compile(r'^"([^"\\]*)"$')


def _invalid(message: str, where: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": where, "message": message}])


def _condition(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).strip()
    if _BARE_WORDS.match(text) and text.lower() not in _KEYWORDS:
        return ", ".join(f'"{word.strip()}"' for word in text.split(","))
    return text


def _output(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).strip()
    if text[:1] in ("[", "{", '"', "'"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_table(stream: BinaryIO, *, hit_policy: str = "first") -> dict[str, Any]:
    """A graph input -> decision table -> output from the spreadsheet's first sheet."""
    return read_rules(stream, hit_policy=hit_policy)[0]


REASONS_SHEET = "reasons"
_REASON_COLUMNS = ("code", "label", "description")


def read_rules(
    stream: BinaryIO, *, hit_policy: str = "first"
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The graph of the first sheet (read_table) and the reasons catalogue of the sheet
    `Reasons`, if the workbook has one (None otherwise)."""
    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _invalid(f"not a readable .xlsx workbook: {exc}", "file") from None
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    named = [sheet for sheet in book.worksheets[1:] if sheet.title.strip().lower() == REASONS_SHEET]
    reason_rows = list(named[0].iter_rows(values_only=True)) if named else None
    book.close()
    graph = _graph(rows, hit_policy)
    return graph, _reasons(named[0].title, reason_rows) if reason_rows is not None else None


def _reasons(title: str, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The catalogue of the reasons sheet's rows, each problem naming its row."""
    header = [str(cell or "").strip().lower() for cell in (rows[0] if rows else ())]
    if "code" not in header or "label" not in header:
        raise _invalid(
            "the reasons sheet needs a header row with code, label and description",
            f"sheet {title!r}, row 1",
        )
    where = {name: header.index(name) for name in _REASON_COLUMNS if name in header}
    catalogue: dict[str, Any] = {}
    errors = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: row[i] if i < len(row) else None for name, i in where.items()}
        if all(value is None or str(value).strip() == "" for value in cells.values()):
            continue
        code = str(cells["code"] or "").strip()
        label = str(cells["label"] or "").strip()
        place = f"sheet {title!r}, row {number}"
        if not code:
            errors.append({"field": place, "message": "give the reason code"})
        elif code in catalogue:
            errors.append({"field": place, "message": f"code {code} is given twice"})
        elif not label:
            errors.append({"field": place, "message": f"give a label for {code}"})
        else:
            entry = {"label": label}
            description = str(cells.get("description") or "").strip()
            if description:
                entry["description"] = description
            catalogue[code] = entry
    if errors:
        raise InvalidInput(f"the reasons sheet has {len(errors)} problem(s)", errors=errors)
    return catalogue


def _graph(rows: list[tuple[Any, ...]], hit_policy: str) -> dict[str, Any]:
    if not rows:
        raise _invalid("the sheet is empty", "row 1")
    inputs: list[tuple[int, Column]] = []
    outputs: list[tuple[int, Column]] = []
    description: int | None = None
    for i, header in enumerate(rows[0]):
        name = str(header or "").strip()
        kind, _, field = name.partition(":")
        if kind.lower() == "in" and field.strip():
            inputs.append((i, Column(field.strip(), field.strip())))
        elif kind.lower() == "out" and field.strip():
            outputs.append((i, Column(field.strip(), field.strip())))
        elif name.lower() == "description":
            description = i
        elif name:
            raise _invalid(
                f"header {name!r} is neither in:<field>, out:<field> nor description",
                f"row 1, column {i + 1}",
            )
    if not outputs:
        raise _invalid("the sheet has no out:<field> column", "row 1")
    rules = []
    for number, row in enumerate(rows[1:], start=2):
        if all(cell is None for cell in row):
            continue
        cells = list(row) + [None] * (len(rows[0]) - len(row))
        rules.append(
            Rule(
                [_condition(cells[i]) for i, _ in inputs],
                [_output(cells[i]) for i, _ in outputs],
                str(cells[description] or "") if description is not None else f"row {number}",
            )
        )
    try:
        content = table(
            [c for _, c in inputs], [c for _, c in outputs], rules, hit_policy=hit_policy
        )
    except ValueError as exc:
        raise _invalid(str(exc), "hit_policy") from None
    graph = Graph()
    graph.add("request", "inputNode", "Request")
    graph.add("table", "decisionTableNode", "Rules", content)
    graph.add("response", "outputNode", "Response")
    graph.chain("request", "table", "response")
    return graph.as_json()


def write_table(graph: dict[str, Any]) -> bytes:
    """The graph's (only) decision table as a spreadsheet that read_table reads back."""
    tables = [n for n in graph["nodes"] if n.get("type") == "decisionTableNode"]
    if len(tables) != 1:
        raise _invalid("only a graph of one decision table can be written as a sheet", "graph")
    content = tables[0]["content"]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    columns = [("in", c) for c in content["inputs"]] + [("out", c) for c in content["outputs"]]
    # Text typed as text: a rule's expression is never stored as a formula (tandem.core.cells).
    sheet.append(
        text_cells(sheet, [f"{kind}:{c['field']}" for kind, c in columns] + ["description"])
    )
    for rule in content["rules"]:
        cells: list[Any] = []
        for kind, column in columns:
            text = rule.get(column["id"], "")
            cells.append(_cell(text, output=kind == "out"))
        sheet.append(text_cells(sheet, [*cells, rule.get("_description", "")]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(text: str, *, output: bool) -> Any:
    """The spreadsheet cell that reads back as `text`."""
    if output and text == "null":
        return None
    if not text:
        return None
    try:
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:
        pass
    simple = _SIMPLE_TEXT.match(text)
    if output and simple and not simple.group(1).startswith(("[", "{")):
        return simple.group(1)
    if not output and text in ("true", "false"):
        return text == "true"
    words = [w.strip() for w in text.split(",")]
    if not output and all(_SIMPLE_TEXT.match(w) for w in words):
        bare = [w[1:-1] for w in words]
        if all(_BARE_WORDS.match(b) and b.lower() not in _KEYWORDS for b in bare):
            return ", ".join(bare)
    return text
