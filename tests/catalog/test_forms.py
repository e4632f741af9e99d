from __future__ import annotations

import copy
import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from typing import Any

import openpyxl
import pytest
from jsonschema import Draft202012Validator

from tandem.catalog.forms import FieldError, Form, FormError
from tandem.intake.readers import read_rows

APPLICATION: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["reference", "amount", "applicant"],
    "properties": {
        "reference": {"type": "string", "minLength": 3},
        "amount": {"type": "number", "minimum": 0},
        "applicant": {
            "type": "object",
            "required": ["name", "birth_date"],
            "properties": {
                "name": {"type": "string"},
                "birth_date": {"type": "string", "format": "date"},
            },
        },
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"qty": {"type": "integer"}},
                "required": ["qty"],
            },
        },
        "received": {"type": "string", "format": "date-time"},
    },
}

VALID = {
    "reference": "A-001",
    "amount": 12.5,
    "applicant": {"name": "Ada", "birth_date": "1990-05-01"},
    "lines": [{"qty": 2}],
    "received": "2024-03-01T10:00:00Z",
}


def fields_of(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


@pytest.fixture(scope="module")
def form() -> Form:
    return Form(APPLICATION)


# -- the schema ----------------------------------------------------------------------------


def test_fields_in_schema_order(form: Form) -> None:
    assert form.fields == ["reference", "amount", "applicant", "lines", "received"]
    assert form.fast_path


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "object", "properties": {"a": {"type": "strng"}}}, "#/properties/a/type"),
        ({"type": "object", "properties": {"a": {"pattern": "(("}}}, "regex"),
        ({"type": "object", "properties": {"a": {"minLength": -1}}}, "minLength"),
        ({"type": "array", "items": {"type": "string"}}, '"type": "object"'),
        ({"properties": {"a": {}}}, '"type": "object"'),
        ({"type": "object"}, '"properties"'),
        ({"type": "object", "properties": {}}, '"properties"'),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"a": {}},
            },
            "2020-12",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}},
            "outside the form",
        ),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}}, "#/$defs/nope"),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["ghost"],
                "properties": {"a": {}},
            },
            "'ghost'",
        ),
        ({"type": "object", "properties": {"a": {"$id": "urn:x", "type": "string"}}}, "$id"),
    ],
)
def test_invalid_schema_is_a_form_error_naming_the_problem(
    schema: dict[str, Any], words: str
) -> None:
    with pytest.raises(FormError) as caught:
        Form(schema)
    assert words in str(caught.value)


@pytest.mark.parametrize("schema", [None, [1, 2], "object", {"type": "object", "x": {1, 2}}])
def test_non_json_schema_is_a_form_error(schema: Any) -> None:
    with pytest.raises(FormError):
        Form(schema)


def test_form_is_unaffected_by_later_changes_to_the_schema_dict() -> None:
    schema = copy.deepcopy(APPLICATION)
    form = Form(schema)
    schema["properties"]["reference"]["minLength"] = 100
    schema["required"].append("lines")
    assert form.errors(VALID) == []


# -- errors ----------------------------------------------------------------------------------


def test_valid_data_has_no_errors(form: Form) -> None:
    assert form.errors(VALID) == []
    assert form.errors(VALID, row=7) == []


def test_missing_required_fields_are_named(form: Form) -> None:
    errors = form.errors({"amount": 1}, row=4)
    assert errors == [
        FieldError("reference", "is required", 4),
        FieldError("applicant", "is required", 4),
    ]


def test_wrong_type(form: Form) -> None:
    assert form.errors({**VALID, "amount": "12"}) == [FieldError("amount", "must be a number")]
    assert form.errors({**VALID, "amount": True}) == [FieldError("amount", "must be a number")]


@pytest.mark.parametrize("value", ["abc", "2024-02-30", "2024-1-05", "01/05/2024"])
def test_bad_date_format(form: Form, value: str) -> None:
    applicant = {"name": "Ada", "birth_date": value}
    assert form.errors({**VALID, "applicant": applicant}) == [
        FieldError("applicant.birth_date", f"{value!r} is not a 'date'")
    ]


@pytest.mark.parametrize(
    "value", ["2024-13-01T00:00:00Z", "2024-03-01 10:00", "2024-03-01T10:00:00"]
)
def test_bad_date_time_format(form: Form, value: str) -> None:
    assert fields_of(form.errors({**VALID, "received": value})) == ["received"]


def test_unknown_field_with_additional_properties_false(form: Form) -> None:
    errors = form.errors({**VALID, "colour": "red", "size": 3})
    assert errors == [
        FieldError("colour", "is not allowed (unknown field)"),
        FieldError("size", "is not allowed (unknown field)"),
    ]


def test_nested_paths(form: Form) -> None:
    data = {**VALID, "applicant": {"name": 5}, "lines": [{"qty": 1}, {"qty": "two"}, {}]}
    # Field order at the top level; within a field, the order of the field's schema keywords.
    assert form.errors(data, row=9) == [
        FieldError("applicant.birth_date", "is required", 9),
        FieldError("applicant.name", "must be a string", 9),
        FieldError("lines.1.qty", "must be an integer", 9),
        FieldError("lines.2.qty", "is required", 9),
    ]


def test_all_errors_of_a_row_are_listed_in_field_order(form: Form) -> None:
    data = {"zzz": 1, "received": "nope", "amount": -1, "reference": "A"}
    errors = form.errors(data)
    assert fields_of(errors) == ["reference", "amount", "applicant", "received", "zzz"]
    assert errors[0].message == "'A' is too short"
    assert errors[1].message == "-1 is less than the minimum of 0"


def test_errors_do_not_change_the_data() -> None:
    form = Form(
        {
            "type": "object",
            "properties": {
                "status": {"type": "string", "default": "new"},
                "n": {"type": "integer"},
            },
        }
    )
    data: dict[str, Any] = {"n": 1}
    assert form.errors(data) == []
    assert data == {"n": 1}


def test_not_an_object(form: Form) -> None:
    assert form.errors([1, 2], row=3) == [FieldError("", "must be an object", 3)]  # type: ignore[arg-type]


def test_ref_siblings_are_enforced_on_the_fast_path() -> None:
    form = Form(
        {
            "type": "object",
            "$defs": {"code": {"type": "string", "pattern": "^[A-Z]+$"}},
            "properties": {"code": {"$ref": "#/$defs/code", "maxLength": 3}},
        }
    )
    assert form.fast_path
    assert form.errors({"code": "ABC"}) == []
    assert fields_of(form.errors({"code": "ABCD"})) == ["code"]
    assert fields_of(form.errors({"code": "abc"})) == ["code"]


def test_2020_12_only_keywords_are_enforced_on_the_fast_path() -> None:
    form = Form(
        {
            "type": "object",
            "properties": {
                "card": {"type": "string"},
                "cvv": {"type": "string"},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            },
            "dependentRequired": {"card": ["cvv"]},
        }
    )
    assert form.fast_path
    assert form.errors({"card": "4111", "cvv": "123", "pair": [1, "a"]}) == []
    errors = form.errors({"card": "4111", "pair": ["a", "b"]})
    assert fields_of(errors) == ["", "pair.0"]
    assert errors[1].message == "must be an integer"


def test_false_schema_and_nullable_type() -> None:
    form = Form(
        {
            "type": "object",
            "properties": {"legacy": False, "note": {"type": ["string", "null"]}},
        }
    )
    assert form.errors({"note": None}) == []
    assert form.errors({"legacy": 1, "note": 3}) == [
        FieldError("legacy", "is not allowed"),
        FieldError("note", "must be a string or null"),
    ]


SAMPLES: list[Any] = [
    None,
    True,
    0,
    1,
    -1,
    2.0,
    2.5,
    "",
    "x",
    "abc",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "1990-05-01",
    "2024-03-01T10:00:00Z",
    "2024-03-01T25:00:00Z",
    "2024-03-01T10:00:00+01:00",
    "a@b.co",
    "no-at-sign",
    "192.168.0.1",
    "999.1.1.1",
    [],
    [1],
    {},
    {"qty": 1},
]


def test_fast_path_and_reference_validator_agree() -> None:
    """The fast path must never pass a value jsonschema rejects, nor the reverse."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "d": {"type": "string", "format": "date"},
            "t": {"format": "date-time"},
            "e": {"type": "string", "format": "email"},
            "ip": {"format": "ipv4"},
            "n": {"type": "integer", "minimum": 0},
            "x": {"type": "number", "exclusiveMaximum": 2.5},
            "s": {"type": ["string", "null"], "maxLength": 2},
            "a": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            "o": {"type": "object", "required": ["qty"]},
            "k": {"enum": [1, "x", None]},
        },
    }
    form = Form(schema)
    reference = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for name in schema["properties"]:
        for value in SAMPLES:
            data = {name: value}
            valid = form.errors(data) == []
            if name != "t":  # jsonschema checks date-time only with rfc3339-validator
                assert valid == reference.is_valid(data), data
            else:
                good = ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+01:00")
                assert valid == (not isinstance(value, str) or value in good), data


def test_a_form_serves_many_threads(form: Form) -> None:
    bad = {**VALID, "amount": "x"}

    def check(i: int) -> list[FieldError]:
        return form.errors(bad if i % 2 else VALID, row=i)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(check, range(400)))
    for i, errors in enumerate(results):
        assert errors == ([FieldError("amount", "must be a number", i)] if i % 2 else [])


# -- coerce ----------------------------------------------------------------------------------

TYPED: dict[str, Any] = {
    "type": "object",
    "$defs": {"count": {"type": "integer"}},
    "properties": {
        "i": {"type": "integer"},
        "n": {"type": "number"},
        "b": {"type": "boolean"},
        "s": {"type": "string"},
        "d": {"type": "string", "format": "date"},
        "dt": {"type": "string", "format": "date-time"},
        "tm": {"type": "string", "format": "time"},
        "a": {"type": "array"},
        "o": {"type": "object"},
        "is": {"type": ["integer", "string"]},
        "ref": {"$ref": "#/$defs/count"},
        "any": {},
    },
}


@pytest.fixture(scope="module")
def typed() -> Form:
    return Form(TYPED)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("i", "12", 12),
        ("i", " 12 ", 12),
        ("i", "-3", -3),
        ("i", "+4", 4),
        ("i", "12.0", 12),
        ("i", "1e3", 1000),
        ("i", 12.0, 12),
        ("i", 7, 7),
        ("n", "1.5", 1.5),
        ("n", "-0.25", -0.25),
        ("n", "1e3", 1000.0),
        ("n", ".5", 0.5),
        ("n", "3", 3.0),
        ("n", 3, 3),
        ("n", 2.75, 2.75),
        ("b", "true", True),
        ("b", "FALSE", False),
        ("b", "Yes", True),
        ("b", "no", False),
        ("b", "1", True),
        ("b", "0", False),
        ("b", True, True),
        ("b", 1, True),
        ("b", 0.0, False),
        ("s", "  Ada Lovelace ", "Ada Lovelace"),
        ("s", 12, "12"),
        ("s", 5551234567.0, "5551234567"),
        ("s", 2.5, "2.5"),
        ("s", datetime(2024, 3, 1), "2024-03-01"),
        ("d", datetime(2024, 3, 1), "2024-03-01"),
        ("d", date(2024, 3, 1), "2024-03-01"),
        ("d", datetime(2024, 3, 1, 9, 30), "2024-03-01T09:30:00"),
        ("dt", datetime(2024, 3, 1), "2024-03-01T00:00:00"),
        ("dt", datetime(2024, 3, 1, 9, 30, 15), "2024-03-01T09:30:15"),
        ("tm", time(9, 30), "09:30:00"),
        ("tm", datetime(1899, 12, 30, 9, 30), "09:30:00"),
        ("a", '[1, "x"]', [1, "x"]),
        ("a", [1], [1]),
        ("o", '{"k": 1}', {"k": 1}),
        ("o", {"k": 1}, {"k": 1}),
        ("is", "12", 12),
        ("is", "twelve", "twelve"),
        ("ref", "5", 5),
        ("any", " kept as text ", "kept as text"),
        ("any", 3.5, 3.5),
    ],
)
def test_coerce_converts_to_the_declared_type(
    typed: Form, field: str, raw: Any, expected: Any
) -> None:
    data, errors = typed.coerce({field: raw}, row=2)
    assert errors == []
    assert data == {field: expected}
    assert type(data[field]) is type(expected)


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("i", "abc", "must be an integer, got 'abc'"),
        ("i", "1.5", "must be an integer, got '1.5'"),
        ("i", "1,000", "must be an integer, got '1,000'"),
        ("i", 12.5, "must be an integer, got 12.5"),
        ("i", True, "must be an integer, got True"),
        ("i", "1e999999999", "must be an integer, got '1e999999999'"),
        ("n", "1,234.50", "must be a number, got '1,234.50'"),
        ("n", "nan", "must be a number, got 'nan'"),
        ("n", "inf", "must be a number, got 'inf'"),
        ("n", "1_000", "must be a number, got '1_000'"),
        ("n", "1e999", "must be a number, got '1e999'"),
        ("n", False, "must be a number, got False"),
        ("b", "maybe", "must be a boolean, got 'maybe'"),
        ("b", 2, "must be a boolean, got 2"),
        ("a", "[1, 2", "must be an array, got '[1, 2'"),
        ("a", '{"k": 1}', "must be an array, got '{\"k\": 1}'"),
        ("o", "[1]", "must be an object, got '[1]'"),
        ("s", [1], "must be a string, got [1]"),
        ("ref", "x", "must be an integer, got 'x'"),
    ],
)
def test_coerce_reports_what_it_cannot_convert(
    typed: Form, field: str, raw: Any, message: str
) -> None:
    data, errors = typed.coerce({"any": "ok", field: raw}, row=6)
    assert errors == [FieldError(field, message, 6)]
    assert field not in data


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_coerce_leaves_blank_values_out(typed: Form, blank: Any) -> None:
    data, errors = typed.coerce({"i": blank, "s": blank, "extra": blank})
    assert (data, errors) == ({}, [])


def test_coerce_passes_unknown_columns_unchanged(typed: Form) -> None:
    data, errors = typed.coerce({"comment": "  as is ", "count": 3})
    assert errors == []
    assert data == {"comment": "  as is ", "count": 3}


def test_coerce_then_errors_reports_the_missing_and_the_unknown(form: Form) -> None:
    data, errors = form.coerce({"reference": "A-001", "amount": " 3.5 ", "extra": "x"})
    assert errors == []
    assert data == {"reference": "A-001", "amount": 3.5, "extra": "x"}
    assert form.errors(data, row=3) == [
        FieldError("applicant", "is required", 3),
        FieldError("extra", "is not allowed (unknown field)", 3),
    ]


def test_validate_reports_a_failed_conversion_once(form: Form) -> None:
    data, errors = form.validate({"amount": "lots", "received": "x"}, row=5)
    assert data == {"received": "x"}
    assert errors == [
        FieldError("reference", "is required", 5),
        FieldError("amount", "must be a number, got 'lots'", 5),
        FieldError("applicant", "is required", 5),
        FieldError("received", "'x' is not a 'date-time'", 5),
    ]
    applicant = '{"name": "A", "birth_date": "2000-01-31"}'
    good = {"reference": "A-001", "amount": "1", "applicant": applicant}
    assert form.validate(good) == (
        {"reference": "A-001", "amount": 1.0, "applicant": json.loads(applicant)},
        [],
    )


def test_coerce_xlsx_native_cells(typed: Form) -> None:
    """Values as openpyxl reads them back from a real workbook."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["i", "n", "b", "s", "d", "dt", "is"])
    sheet.append([12, 2.5, True, 5551234567, datetime(2024, 3, 1), datetime(2024, 3, 1, 8, 0), 7])
    sheet.append([12.0, 3, 0, "text", date(1990, 5, 1), "2024-03-01T08:00:00Z", "seven"])
    sheet.append([12.5, "x", "maybe", None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    rows = list(read_rows(buffer, "xlsx"))
    results = [typed.coerce(row.values, row.number) for row in rows]
    assert results[0] == (
        {
            "i": 12,
            "n": 2.5,
            "b": True,
            "s": "5551234567",
            "d": "2024-03-01",
            "dt": "2024-03-01T08:00:00",
            "is": 7,
        },
        [],
    )
    assert results[1] == (
        {
            "i": 12,
            "n": 3,
            "b": False,
            "s": "text",
            "d": "1990-05-01",
            "dt": "2024-03-01T08:00:00Z",
            "is": "seven",
        },
        [],
    )
    assert results[2] == (
        {},
        [
            FieldError("i", "must be an integer, got 12.5", 4),
            FieldError("n", "must be a number, got 'x'", 4),
            FieldError("b", "must be a boolean, got 'maybe'", 4),
        ],
    )


# -- a client's regular expressions ----------------------------------------------------------

CATASTROPHIC = "^(a+)+$"  # on a backtracking engine, each extra character doubles the time


class _NeverMatched:
    """The client's pattern as Python's re gives it, but refusing to match anything."""

    def __init__(self, compiled: Any) -> None:
        self.pattern = compiled.pattern

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a client's pattern ran on Python's backtracking re ({name})")


@pytest.fixture
def no_backtracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's backtracking re may compile the client's pattern (checking a schema does),
    never match with it: the test fails if it does (it did, before: the reference validator
    ran patterns, and patternProperties, with re)."""
    import re

    compile_ = re._compile  # type: ignore[attr-defined]

    def guarded(pattern: Any, flags: Any) -> Any:
        compiled = compile_(pattern, flags)
        return _NeverMatched(compiled) if pattern == CATASTROPHIC else compiled

    monkeypatch.setattr(re, "_compile", guarded)


def test_a_clients_patterns_run_on_a_linear_time_engine(no_backtracking: None) -> None:
    """pattern, patternProperties and additionalProperties beside them: every check of a
    value against the client's regex, in both validators, and the explanations."""
    form = Form(
        {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": CATASTROPHIC}},
            "patternProperties": {CATASTROPHIC: {"type": "integer"}},
            "additionalProperties": False,
            "required": ["code"],
        }
    )
    hostile = "a" * 200 + "b"  # minutes on a backtracking engine
    [error] = form.errors({"code": hostile})
    assert error.field == "code" and "does not match" in error.message
    assert form.errors({"code": "aaa", "aa": 1}) == []
    assert [e.field for e in form.errors({"code": "aaa", "aa": "x", hostile: 1})] == [
        "aa",
        hostile,
    ]


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        ("(a)\\1", "#/properties/code/pattern"),
        ("^(?=a)", "#/properties/code/pattern"),
        ("(?<!x)y", "#/properties/code/pattern"),
    ],
)
def test_a_pattern_only_a_backtracking_engine_runs_is_refused(pattern: str, where: str) -> None:
    with pytest.raises(FormError, match=f"{where}: the pattern .* linear-time engine"):
        Form({"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}})
    with pytest.raises(FormError, match=r"#/patternProperties/.*linear-time engine"):
        Form(
            {
                "type": "object",
                "properties": {"code": {"type": "string"}},
                "patternProperties": {pattern: {"type": "string"}},
            }
        )
