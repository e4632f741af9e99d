from __future__ import annotations

import io
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tandem.intake.readers import FileFormat, ReaderError, SourceRow, detect_format, read_rows


def rows(data: bytes, fmt: FileFormat) -> list[SourceRow]:
    return list(read_rows(io.BytesIO(data), fmt))


def reader_error(data: bytes, fmt: FileFormat) -> str:
    with pytest.raises(ReaderError) as caught:
        rows(data, fmt)
    return str(caught.value)


def xlsx(*sheet_rows: list[Any], first_sheet_title: str = "Items") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = first_sheet_title
    for values in sheet_rows:
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- detect_format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("items.csv", None, "csv"),
        ("ITEMS.CSV", None, "csv"),
        ("export.2024.jsonl", None, "jsonl"),
        ("feed.ndjson", None, "jsonl"),
        ("book.xlsx", None, "xlsx"),
        ("C:\\Users\\ana\\book.Xlsx", None, "xlsx"),
        ("items.csv", "application/vnd.ms-excel", "csv"),  # the extension wins
        ("upload", "text/csv; charset=utf-8", "csv"),
        (None, "application/x-ndjson", "jsonl"),
        ("", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ],
)
def test_detect_format(filename: str | None, content_type: str | None, expected: str) -> None:
    assert detect_format(filename, content_type) == expected


@pytest.mark.parametrize(
    ("filename", "content_type", "words"),
    [
        ("items.txt", None, "'items.txt'"),
        ("items.txt", "text/plain", "text/plain"),
        ("old.xls", None, "save it as .xlsx"),
        ("data.json", "application/json", "'data.json'"),
        (None, None, "no name"),
    ],
)
def test_detect_format_refuses_what_it_cannot_read(
    filename: str | None, content_type: str | None, words: str
) -> None:
    with pytest.raises(ValueError, match="cannot tell the format") as caught:
        detect_format(filename, content_type)
    assert words in str(caught.value)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'xml'"):
        read_rows(io.BytesIO(b""), "xml")  # type: ignore[arg-type]


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_rows_are_numbered_as_in_a_spreadsheet() -> None:
    data = b'name,age\r\nAda,36\r\n\r\n"Lovelace, A.","3"\r\n"two\nlines",4\r\n'
    assert rows(data, "csv") == [
        SourceRow(2, {"name": "Ada", "age": "36"}),
        SourceRow(4, {"name": "Lovelace, A.", "age": "3"}),
        SourceRow(5, {"name": "two\nlines", "age": "4"}),
    ]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiter_is_told_from_the_header(delimiter: str) -> None:
    """Excel in a European locale saves CSV with ';' (and decimal commas stay text)."""
    data = f'\nname{delimiter}amount\nAda{delimiter}"1,5"\n"Lovelace{delimiter} A."{delimiter}3\n'
    assert rows(data.encode(), "csv") == [
        SourceRow(3, {"name": "Ada", "amount": "1,5"}),
        SourceRow(4, {"name": f"Lovelace{delimiter} A.", "amount": "3"}),
    ]


def test_csv_of_one_column() -> None:
    assert rows(b"name\nAda\n", "csv") == [SourceRow(2, {"name": "Ada"})]


def test_csv_skips_blank_lines_and_rows_of_empty_cells() -> None:
    data = b"\n\nname,age\n\n,\n  ,  \nAda,36\n"
    assert rows(data, "csv") == [SourceRow(7, {"name": "Ada", "age": "36"})]


def test_csv_byte_order_mark_is_not_part_of_the_first_column() -> None:
    data = "\ufeffname,age\nAda,36\n".encode()
    assert rows(data, "csv") == [SourceRow(2, {"name": "Ada", "age": "36"})]


def test_csv_header_names_are_stripped_and_trailing_empty_columns_dropped() -> None:
    data = b" name , age ,,\nAda,36,,\n"
    assert rows(data, "csv") == [SourceRow(2, {"name": "Ada", "age": "36"})]


def test_csv_short_row_gets_empty_cells() -> None:
    assert rows(b"a,b,c\n1\n", "csv") == [SourceRow(2, {"a": "1", "b": "", "c": ""})]


def test_csv_row_with_more_cells_than_the_header_is_a_row_problem() -> None:
    data = b"a,b\n1,2\n1,2,3\n4,5\n"
    result = rows(data, "csv")
    assert result[1] == SourceRow(3, {}, "row 3 has 3 cells but the header has 2 columns")
    assert [row.number for row in result] == [2, 3, 4]
    assert result[2].values == {"a": "4", "b": "5"}


def test_csv_duplicate_header_names_them() -> None:
    message = reader_error(b"id,name,id,name,x\n1,2,3,4,5\n", "csv")
    assert "'id' (columns 1, 3)" in message
    assert "'name' (columns 2, 4)" in message


def test_csv_empty_header_name_names_the_column() -> None:
    assert "column(s) 2" in reader_error(b"a,,c\n1,2,3\n", "csv")


@pytest.mark.parametrize("data", [b"", "\ufeff".encode(), b"\n\r\n  \n"])
def test_csv_empty_file(data: bytes) -> None:
    assert reader_error(data, "csv") == "the file is empty"


def test_csv_header_only_has_no_rows() -> None:
    assert rows(b"a,b\n", "csv") == []


def test_csv_not_utf8_says_where() -> None:
    data = b"name\n" + b"row\n" * 4000 + "Jos\xe9\n".encode("latin-1")
    message = reader_error(data, "csv")
    assert "not UTF-8" in message
    assert "byte 0xe9 at offset 16008 (line 4002)" in message


def test_csv_stream_is_left_open() -> None:
    stream = io.BytesIO(b"a\n1\n")
    assert len(list(read_rows(stream, "csv"))) == 1
    assert not stream.closed


# -- JSONL -------------------------------------------------------------------------------------


def test_jsonl_rows_are_line_numbers() -> None:
    data = b'{"a": 1}\n\n  \n{"a": 2, "b": [1, {"c": null}]}\r\n{"a": 3}'
    assert rows(data, "jsonl") == [
        SourceRow(1, {"a": 1}),
        SourceRow(4, {"a": 2, "b": [1, {"c": None}]}),
        SourceRow(5, {"a": 3}),
    ]


def test_jsonl_bad_line_is_a_problem_naming_the_line() -> None:
    data = b'{"a": 1}\n{"a": }\n[1, 2]\n"text"\n{"a": NaN}\n{"a": 2}\n'
    result = rows(data, "jsonl")
    assert [row.number for row in result] == [1, 2, 3, 4, 5, 6]
    assert result[1].values == {}
    assert result[1].problem is not None and result[1].problem.startswith("line 2: invalid JSON")
    assert result[2].problem == "line 3: expected a JSON object, got an array"
    assert result[3].problem == "line 4: expected a JSON object, got a string"
    assert result[4].problem == "line 5: invalid JSON (NaN is not valid JSON)"
    assert result[5] == SourceRow(6, {"a": 2})


def test_jsonl_byte_order_mark() -> None:
    assert rows('\ufeff{"a": 1}\n'.encode(), "jsonl") == [SourceRow(1, {"a": 1})]


@pytest.mark.parametrize("data", [b"", b"\n \n"])
def test_jsonl_empty_file(data: bytes) -> None:
    assert reader_error(data, "jsonl") == "the file is empty"


def test_jsonl_not_utf8() -> None:
    message = reader_error(b'{"a": 1}\n{"a": "\xff"}\n', "jsonl")
    assert "byte 0xff at offset 16 (line 2)" in message


# -- XLSX --------------------------------------------------------------------------------------


def test_xlsx_rows_with_sheet_row_numbers_and_native_values() -> None:
    data = xlsx(
        ["name", "age", "born", "active"],
        ["Ada", 36, datetime(1815, 12, 10), True],
        [],
        [None, None, None],
        ["Bob", 2.5, "1990-01-01", False],
        ["Cy"],
    )
    assert rows(data, "xlsx") == [
        SourceRow(2, {"name": "Ada", "age": 36, "born": datetime(1815, 12, 10), "active": True}),
        SourceRow(5, {"name": "Bob", "age": 2.5, "born": "1990-01-01", "active": False}),
        SourceRow(6, {"name": "Cy", "age": None, "born": None, "active": None}),
    ]


def test_xlsx_reads_the_first_sheet_even_when_another_is_active() -> None:
    book = openpyxl.Workbook()
    book.active.append(["a"])
    book.active.append([1])
    other = book.create_sheet("Other")
    other.append(["b"])
    other.append([2])
    book.active = 1
    buffer = io.BytesIO()
    book.save(buffer)
    assert rows(buffer.getvalue(), "xlsx") == [SourceRow(2, {"a": 1})]


def test_xlsx_header_below_blank_rows_and_gaps() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A3"] = "code"
    sheet["B3"] = "qty"
    sheet["A4"] = "X"
    sheet["B4"] = 1
    sheet["A9"] = "Y"
    buffer = io.BytesIO()
    book.save(buffer)
    assert rows(buffer.getvalue(), "xlsx") == [
        SourceRow(4, {"code": "X", "qty": 1}),
        SourceRow(9, {"code": "Y", "qty": None}),
    ]


def test_xlsx_empty_header_cell_names_the_column() -> None:
    message = reader_error(xlsx([None, "code", None, "qty"], [1, 2, 3, 4]), "xlsx")
    assert "column(s) 1, 3" in message


def test_xlsx_extra_cells_are_a_row_problem() -> None:
    data = xlsx(["a", "b"], [1, 2, None, "   "], [1, 2, 3])
    assert rows(data, "xlsx") == [
        SourceRow(2, {"a": 1, "b": 2}),
        SourceRow(3, {}, "row 3 has 3 cells but the header has 2 columns"),
    ]


def test_xlsx_duplicate_header() -> None:
    assert "'a' (columns 1, 2)" in reader_error(xlsx(["a", "a"], [1, 2]), "xlsx")


def test_xlsx_empty_sheet() -> None:
    assert reader_error(xlsx(), "xlsx") == "the worksheet 'Items' is empty"


@pytest.mark.parametrize("data", [b"", b"name,age\nAda,36\n", b"PK\x03\x04broken"])
def test_not_an_xlsx_file(data: bytes) -> None:
    assert reader_error(data, "xlsx").startswith("not a valid XLSX workbook")


# -- streaming ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_big_csv_is_streamed(tmp_path: Path) -> None:
    """200,000 rows (~15 MB) read with a flat, small memory peak: no row is kept."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("reference,name,amount,date,email,qty,active,note\n")
        line = "REF-{0:07d},Customer {0},{0}.50,2024-03-01,c{0}@example.com,{1},yes,text\n"
        for i in range(200_000):
            out.write(line.format(i, i % 97))
    count = 0
    last = 0
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            for row in read_rows(stream, "csv"):
                count += 1
                last = row.number
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 200_000
    assert last == 200_001
    assert peak < 2 * 1024 * 1024
