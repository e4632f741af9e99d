"""Values written into files people open in a spreadsheet (CSV, XLSX): never run as
formulas. A text cell starting with =, +, -, @, a tab or a carriage return is what Excel,
LibreOffice and Sheets read as a formula (or a DDE call); exports prefix it with an
apostrophe, as OWASP advises, and XLSX cells are typed as text, never as formulas."""

from __future__ import annotations

from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """`value` as a spreadsheet must show it: text that would start a formula gets a
    leading apostrophe; anything else is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def text_cells(sheet: WriteOnlyWorksheet | Worksheet, values: list[Any]) -> list[Any]:
    """A row of cells for `sheet` whose text is typed as text: openpyxl would otherwise store
    a string starting with '=' as a formula."""
    cells: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    return cells
