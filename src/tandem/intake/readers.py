"""Streaming readers of bulk work files (CSV, JSONL, XLSX): one row at a time, never the whole
file in memory.

A row that cannot be read (bad JSON, more cells than the header) is yielded with a `problem`,
so the report names it and the rest of the file goes on; a problem with the whole file (empty,
bad header, not UTF-8, not an XLSX workbook) raises ReaderError. Readers are generators: such
an error surfaces while iterating, for a header at the first row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, BinaryIO, Literal

import openpyxl

FileFormat = Literal["csv", "jsonl", "xlsx"]

_EXTENSIONS: dict[str, FileFormat] = {
    "csv": "csv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "xlsx": "xlsx",
}
_CONTENT_TYPES: dict[str, FileFormat] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "application/jsonl": "jsonl",
    "application/x-jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/ndjson": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def detect_format(filename: str | None, content_type: str | None = None) -> FileFormat:
    """The format of an upload, by the file's extension, else by its content type.

    The extension wins: browsers send odd content types for CSV (application/vnd.ms-excel).
    """
    name = (filename or "").strip()
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    extension = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    hint = " (old Excel format: save it as .xlsx)" if extension == "xls" else ""
    shown = repr(name) if name else "the file (no name)"
    sent = f" sent as {content_type!r}" if content_type else ""
    raise ValueError(
        f"cannot tell the format of {shown}{sent}{hint}: expected .csv, .jsonl, .ndjson or .xlsx"
    )


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row of a file. `number` is what a person sees: in CSV and XLSX the header is row 1
    (the first data row is 2); in JSONL it is the line number."""

    number: int
    values: dict[str, Any]
    problem: str | None = None  # the row itself is unreadable; values is then {}


class ReaderError(Exception):
    """The whole file is unusable; the message says why."""


def read_rows(stream: BinaryIO, fmt: FileFormat) -> Iterator[SourceRow]:
    """The rows of a binary stream, lazily. The stream is not closed (it is the caller's)."""
    if fmt == "csv":
        return _read_csv(stream)
    if fmt == "jsonl":
        return _read_jsonl(stream)
    if fmt == "xlsx":
        return _read_xlsx(stream)
    raise ValueError(f"unknown file format {fmt!r}")


# -- header ------------------------------------------------------------------------------------


def _header(cells: Sequence[Any], number: int) -> list[str]:
    """Column names from a header row. Trailing empty cells are dropped (spreadsheets often
    carry a few); an empty or a repeated name elsewhere is an error."""
    names = ["" if cell is None else str(cell).strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    empty = [str(index) for index, name in enumerate(names, 1) if not name]
    if empty:
        raise ReaderError(
            f"the header (row {number}) has no column name in column(s) {', '.join(empty)}"
        )
    columns: dict[str, list[int]] = {}
    for index, name in enumerate(names, 1):
        columns.setdefault(name, []).append(index)
    repeated = [
        f"{name!r} (columns {', '.join(map(str, indexes))})"
        for name, indexes in columns.items()
        if len(indexes) > 1
    ]
    if repeated:
        raise ReaderError(
            f"the header (row {number}) repeats column name(s): {', '.join(repeated)}"
        )
    return names


def _row(header: list[str], cells: Sequence[Any], number: int, fill: Any) -> SourceRow:
    width = len(header)
    if len(cells) == width:
        return SourceRow(number, dict(zip(header, cells, strict=True)))
    if len(cells) < width:
        return SourceRow(number, dict(zip_longest(header, cells, fillvalue=fill)))
    if all(_blank(cell) for cell in cells[width:]):
        return SourceRow(number, dict(zip(header, cells, strict=False)))
    return SourceRow(
        number,
        {},
        f"row {number} has {len(cells)} cells but the header has {width} columns",
    )


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# -- CSV ---------------------------------------------------------------------------------------


class _CountingReader(io.BufferedIOBase):
    """Hands the caller's stream to TextIOWrapper, counting the bytes and lines read (to say
    where a decoding error is) and leaving the stream open when the wrapper is closed."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._read1 = getattr(raw, "read1", raw.read)
        self.consumed = 0
        self.newlines = 0

    @property
    def name(self) -> Any:
        return getattr(self._raw, "name", None)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        return self._counted(self._raw.read(-1 if size is None else size))

    def read1(self, size: int = -1, /) -> bytes:
        return self._counted(self._read1(size))

    def _counted(self, data: bytes) -> bytes:
        self.consumed += len(data)
        self.newlines += data.count(b"\n")
        return data

    def locate(self, exc: UnicodeDecodeError) -> tuple[int, int]:
        """(byte offset, line number) of a decoding error. TextIOWrapper reads ahead, so the
        error surfaces before its row; but the decoder's input is the tail of what was read."""
        after = exc.object[exc.start :]
        return self.consumed - len(after), self.newlines - after.count(b"\n") + 1


def _not_utf8(exc: UnicodeDecodeError, offset: int, line: int) -> ReaderError:
    byte = exc.object[exc.start : exc.start + 1].hex()
    return ReaderError(
        f"the file is not UTF-8 text: byte 0x{byte} at offset {offset} (line {line}); "
        "save it as UTF-8 (in Excel: 'CSV UTF-8')"
    )


# Spreadsheets save CSV with the list separator of the user's locale: ";" across most of
# Europe and Latin America, "," elsewhere; some systems export tabs or pipes.
_DELIMITERS = ",;\t|"


def _lines_and_delimiter(text: io.TextIOWrapper) -> tuple[Iterator[str], str]:
    """The file's lines (none consumed) and its delimiter, told from the header line; all
    else stays as Excel writes CSV."""
    leading: list[str] = []
    for line in text:
        leading.append(line)
        if line.strip():
            break
    delimiter = ","  # one column, or nothing to tell
    if leading:
        with contextlib.suppress(csv.Error):
            delimiter = csv.Sniffer().sniff(leading[-1], delimiters=_DELIMITERS).delimiter
    return itertools.chain(leading, text), delimiter


def _read_csv(stream: BinaryIO) -> Iterator[SourceRow]:
    counter = _CountingReader(stream)
    text = io.TextIOWrapper(counter, encoding="utf-8-sig", newline="")
    number = 0  # records, blank ones included, as a spreadsheet numbers them
    header: list[str] | None = None
    try:
        lines, delimiter = _lines_and_delimiter(text)
        records: Iterable[list[str]] = csv.reader(lines, delimiter=delimiter)
        for cells in records:
            number += 1
            if not any(cells) or not "".join(cells).strip():
                continue
            if header is None:
                header = _header(cells, number)
                continue
            yield _row(header, cells, number, "")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc, *counter.locate(exc)) from None
    except csv.Error as exc:
        raise ReaderError(f"row {number + 1}: unreadable CSV ({exc})") from None
    finally:
        text.detach()
    if header is None:
        raise ReaderError("the file is empty")


# -- JSONL -------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def _read_jsonl(stream: BinaryIO) -> Iterator[SourceRow]:
    offset = 0
    seen = False
    for number, line in enumerate(stream, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc, offset + exc.start, number) from None
        offset += len(line)
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            continue
        seen = True
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            yield SourceRow(
                number, {}, f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})"
            )
            continue
        except ValueError as exc:  # NaN, Infinity
            yield SourceRow(number, {}, f"line {number}: invalid JSON ({exc})")
            continue
        if isinstance(value, dict):
            yield SourceRow(number, value)
        else:
            kind = "null" if value is None else _JSON_TYPES.get(type(value), "not an object")
            yield SourceRow(number, {}, f"line {number}: expected a JSON object, got {kind}")
    if not seen:
        raise ReaderError("the file is empty")


# -- XLSX --------------------------------------------------------------------------------------


def _read_xlsx(stream: BinaryIO) -> Iterator[SourceRow]:
    """The first worksheet. Cells come as openpyxl gives them (str, int, float, bool, datetime,
    None); formulas as their last computed value."""
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike: not a usable workbook
        raise ReaderError(f"not a valid XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        if not workbook.worksheets:
            raise ReaderError("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Some writers record a wrong sheet size, which would cut rows or columns short.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        number = 0  # gaps in the sheet come as empty rows, so this is the sheet's row number
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                break
            except Exception as exc:
                raise ReaderError(
                    f"the worksheet is unreadable after row {number} ({type(exc).__name__}: {exc})"
                ) from None
            number += 1
            if all(_blank(cell) for cell in cells):
                continue
            if header is None:
                header = _header(cells, number)
                continue
            yield _row(header, cells, number, None)
        if header is None:
            raise ReaderError(f"the worksheet {sheet.title!r} is empty")
    finally:
        workbook.close()
