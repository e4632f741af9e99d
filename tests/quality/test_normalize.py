"""Double-entry normalizers: harmless differences agree, real ones do not, odd input is safe."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tandem.quality.normalize import NORMALIZERS, agreement, normalize, normalizer_for


def agree(kind: str, a: Any, b: Any, region: str | None = None) -> bool:
    return bool(normalize(kind, a, region=region) == normalize(kind, b, region=region))


# --- each normalizer: pairs that must agree, pairs that must not --------------------------------

AGREE = [
    # text
    ("text", "n/a", "N/A "),
    ("text", "Acme  Corp", " acme corp"),
    ("text", "ACME\u00a0Corp", "acme corp"),  # no-break space
    ("text", "Straße", "STRASSE"),  # casefold
    ("text", "ﬁle", "file"),  # NFKC ligature
    ("text", None, ""),
    ("text", None, "   "),
    ("text", 42, "42"),
    # date
    ("date", "2024-03-05", "03/05/2024"),
    ("date", "2024-03-05", "5 Mar 2024"),
    ("date", "2024-03-05", "March 5, 2024"),
    ("date", "2024-03-05", date(2024, 3, 5)),
    ("date", "2024-03-05", datetime(2024, 3, 5)),
    ("date", "2024-03-05", "2024-03-05T00:00:00"),
    ("date", "2024-03-05T10:00:00Z", "2024-03-05T12:00:00+02:00"),
    ("date", "2024-03-05T10:00:00+00:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
    ("date", "2024-03-05 14:30", "2024-03-05T14:30:00"),
    ("date", "march 2024", "March 2024"),  # incomplete: compared as text
    ("date", "n/a", "N/A"),
    # amount
    ("amount", "1234.50", "1,234.50"),
    ("amount", "1234.5", Decimal("1234.50")),
    ("amount", "$1 234.5", "1234.50 USD"),
    ("amount", "1.234,50", "1234.50"),
    ("amount", "1\u00a0234,50 €", "1234.5"),
    ("amount", "CHF 1'234.50", "1234.50"),
    ("amount", "(12.00)", "-12"),
    ("amount", "$(12.00)", "-12"),
    ("amount", "-$12", "$-12.00"),
    ("amount", "12.00-", "-12"),
    ("amount", "100", 100),
    ("amount", "100.00", 100.0),
    ("amount", 0.1, "0.10"),
    ("amount", "1,234,567", "1.234.567"),
    ("amount", "+5", "5"),
    ("amount", ".5", "0.50"),
    ("amount", "0.00", "-0"),
    ("amount", "n/a", "N/A"),
    # phone
    ("phone", "(202) 555-0143", "+1 202 555 0143"),
    ("phone", "202.555.0143", "+12025550143"),
    ("phone", "2025550143", 2025550143),
    ("phone", "+44 20 7946 0958", "+442079460958"),
    ("phone", "+1 202 555 0143 ext. 12", "+12025550143 x12"),
    # name
    ("name", "Smith, John", "John Smith"),
    ("name", "john  smith", "JOHN SMITH"),
    ("name", "Jöhn Smith", "John Smith"),
    ("name", "O'Brien", "OBrien"),
    ("name", "Mary-Kate O'Brien", "O'Brien, Mary-Kate"),
    ("name", "Dr. John Q. Smith Jr.", "Smith, John Q"),
    ("name", "Zoë Ångström", "zoe angstrom"),
    ("name", "José García-Márquez", "Garcia-Marquez, Jose"),
    # exact
    ("exact", {"b": 1, "a": [1, 2]}, {"a": [1, 2], "b": 1}),
    ("exact", True, True),
    ("exact", None, "  "),
]

DISAGREE = [
    # text
    ("text", "Acme Corp", "Acme Corp."),
    ("text", "abc", "2024-01-01"),
    ("text", "n/a", None),
    # date
    ("date", "2024-03-05", "2024-03-06"),
    ("date", "05/03/2024", "2024-03-05"),  # month first: May 3rd
    ("date", "2024-03-05", "2023-03-05"),
    ("date", "abc", "2024-01-01"),
    ("date", "March 2024", "2024-03-01"),  # no day keyed: not filled in from a default
    ("date", "2024-03-05T10:00:00Z", "2024-03-05T10:00:00+02:00"),
    ("date", "2024-03-05T10:00:00", "2024-03-05T10:00:00Z"),  # zone keyed on one side only
    ("date", "2024-03-05 10:00", "2024-03-05 11:00"),
    ("date", "2024-03-05 10:00 EST", "2024-03-05 10:00 PST"),  # unknown zones are not dropped
    ("date", "2024-03-05", None),
    # amount
    ("amount", "1234.50", "1234.05"),
    ("amount", "1234.50", "1243.50"),
    ("amount", "(12.00)", "12.00"),
    ("amount", "-12", "12"),
    ("amount", "1,5", "15"),  # bad grouping: not read as 15
    ("amount", "1,5", "1.5"),  # nor as a decimal comma (one digit)
    ("amount", "1.234", "1234"),  # a lone dot is a decimal point
    ("amount", "12 apples", "12"),
    ("amount", "1e3", "1000"),
    ("amount", "abc", "0"),
    ("amount", "0", None),
    # phone
    ("phone", "(202) 555-0143", "(202) 555-0144"),
    ("phone", "+1 202 555 0143", "+44 202 555 0143"),
    ("phone", "+1 202 555 0143 ext. 12", "+1 202 555 0143 ext. 13"),
    ("phone", "+1 202 555 0143 ext. 12", "+1 202 555 0143"),
    ("phone", "12-34", "12-35"),  # unreadable numbers compare by digits
    ("phone", "abc", "xyz"),  # no digits: compared as text, not as ""
    # name
    ("name", "John Smith", "Jane Smith"),
    ("name", "John Smith", "John Smyth"),
    ("name", "Smith John", "John Smith"),  # without a comma, order is taken as keyed
    ("name", "John Q. Smith", "John Smith"),
    ("name", "Mary-Kate Smith", "Mary Kate Smith"),
    ("name", "Dr.", "Mr."),
    # exact
    ("exact", True, False),
    ("exact", True, "true"),
    ("exact", 1, "1"),
    ("exact", [1, 2], [2, 1]),
    ("exact", " a", "a"),
    ("exact", False, None),
]


@pytest.mark.parametrize(("kind", "a", "b"), AGREE)
def test_harmless_differences_agree(kind: str, a: Any, b: Any) -> None:
    assert agree(kind, a, b, region="US"), (normalize(kind, a, region="US"), normalize(kind, b))


@pytest.mark.parametrize(("kind", "a", "b"), DISAGREE)
def test_real_differences_disagree(kind: str, a: Any, b: Any) -> None:
    assert not agree(kind, a, b, region="US"), (normalize(kind, a, region="US"), normalize(kind, b))


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("text", "  Hello \t  World ", "hello world"),
        ("date", "05/03/2024", "2024-05-03"),
        ("date", "2024-03-05T10:00:00+02:00", "2024-03-05T08:00:00+00:00"),
        ("date", "2024-03-05T10:00:00", "2024-03-05T10:00:00"),
        (
            "date",
            datetime(2024, 3, 5, 23, tzinfo=timezone(timedelta(hours=-5))),
            "2024-03-06T04:00:00+00:00",
        ),
        ("amount", "1,234.50", Decimal("1234.5")),
        ("amount", "(12.00)", Decimal("-12")),
        ("amount", "1.234,50", Decimal("1234.5")),
        ("amount", 100, Decimal("100")),
        ("amount", "12345678901234567890123456789.50", Decimal("12345678901234567890123456789.5")),
        ("phone", "(202) 555-0143", "+12025550143"),
        ("name", "Smith, John", "john smith"),
        ("name", "O'Brien, Mary-Kate", "marykate obrien"),
        ("exact", {"b": 1, "a": None}, '{"a": null, "b": 1}'),
        ("exact", None, None),
    ],
)
def test_normalized_forms(kind: str, value: Any, expected: Any) -> None:
    assert normalize(kind, value, region="US") == expected


def test_amounts_are_decimals_and_unreadable_amounts_are_text() -> None:
    assert isinstance(normalize("amount", "1,234.50"), Decimal)
    assert normalize("amount", "approx. 12") == "approx. 12"
    assert normalize("amount", float("nan")) == "nan"  # NaN would never equal itself


def test_phone_region_is_needed_for_national_numbers() -> None:
    assert normalize("phone", "020 7946 0958", region="GB") == "+442079460958"
    assert normalize("phone", "020 7946 0958", region="gb") == "+442079460958"
    # Without a region a national number cannot be read: its digits are compared.
    assert normalize("phone", "020 7946 0958") == "02079460958"
    assert agree("phone", "020 7946 0958", "+44 20 7946 0958", region="GB")
    assert not agree("phone", "020 7946 0958", "+44 20 7946 0958")


@pytest.mark.parametrize("kind", NORMALIZERS)
@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n"])
def test_blank_is_none_for_every_normalizer(kind: str, blank: Any) -> None:
    assert normalize(kind, blank) is None


ODD = [
    "n/a",
    "-",
    "()",
    "(-12)",
    "$",
    "..,,",
    "1,23,456.00",
    "2024-02-30",
    "99999999999999999999",
    "31/31/31",
    "10:00",
    ",",
    "Dr.",
    "+",
    "x" * 1000,
    "1" * 400,
    "\u0000\ufffd",
    "😀",
    0,
    -1,
    1e308,
    float("inf"),
    float("nan"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    True,
    False,
    [],
    {},
    [1, {"a": {1, 2}}],
    {1: "a", "b": 2},  # keys that cannot be sorted together
    b"bytes",
    object(),
    date(2024, 3, 5),
    datetime(2024, 3, 5, 10, 30),
]


@pytest.mark.parametrize("kind", NORMALIZERS)
@pytest.mark.parametrize("value", ODD, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(ODD)])
def test_odd_input_does_not_raise(kind: str, value: Any) -> None:
    normalize(kind, value, region="US")
    normalize(kind, value, region="XX")  # an unknown region is not an error either


def test_unknown_normalizer_is_an_error() -> None:
    with pytest.raises(ValueError, match="fuzzy"):
        normalize("fuzzy", "x")


# --- normalizer_for ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "text"),
        ({"type": "string", "format": "date"}, "date"),
        ({"type": "string", "format": "date-time"}, "date"),
        ({"format": "date"}, "date"),
        ({"type": "number"}, "amount"),
        ({"type": "integer"}, "amount"),
        ({"type": ["number", "null"]}, "amount"),
        ({"type": "string", "format": "phone"}, "phone"),
        ({"type": "string", "format": "email"}, "text"),
        ({"type": ["string", "null"]}, "text"),
        ({"type": "string", "enum": ["a", "b"]}, "text"),
        ({"type": "boolean"}, "exact"),
        ({"type": "object", "properties": {}}, "exact"),
        ({"type": "array", "items": {"type": "string"}}, "exact"),
        ({"type": ["string", "number"]}, "exact"),
        ({}, "exact"),
        ({"type": "string", "x-normalize": "name"}, "name"),
        ({"type": "string", "format": "date", "x-normalize": "text"}, "text"),
        ({"type": "number", "x-normalize": "exact"}, "exact"),
        ({"type": "string", "x-normalize": "phone"}, "phone"),
    ],
)
def test_normalizer_for(schema: dict[str, Any], expected: str) -> None:
    assert normalizer_for(schema) == expected


@pytest.mark.parametrize("bad", ["fuzzy", "Name", "", None, 3])
def test_bad_x_normalize_is_an_error_naming_the_value(bad: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        normalizer_for({"type": "string", "x-normalize": bad})


# --- agreement on a form -------------------------------------------------------------------------

INVOICE_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "invoice_date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
        "supplier_phone": {"type": "string", "format": "phone"},
        "contact_name": {"type": "string", "x-normalize": "name"},
        "paid": {"type": "boolean"},
        "due_date": {"type": "string", "format": "date"},
    },
}


def test_agreement_on_an_invoice() -> None:
    first = {
        "invoice_number": "INV-0042 ",
        "invoice_date": "03/05/2024",
        "total": "1,234.50",
        "supplier_phone": "(202) 555-0143",
        "contact_name": "Smith, John",
        "paid": True,
        "po_number": "PO-7",
    }
    second = {
        "invoice_number": "inv-0042",
        "invoice_date": "2024-03-05",
        "total": "1234.05",
        "supplier_phone": "+1 202 555 0143",
        "contact_name": "Jöhn Smith",
        "paid": False,
        "due_date": "",
        "notes": "rush",
    }
    result = agreement(INVOICE_FORM, first, second, region="US")
    assert result == {
        "invoice_number": True,
        "invoice_date": True,
        "total": False,
        "supplier_phone": True,
        "contact_name": True,
        "paid": False,
        "due_date": True,  # absent and "" are both None
        "notes": False,
        "po_number": False,
    }
    assert list(result) == [*INVOICE_FORM["properties"], "notes", "po_number"]


def test_agreement_extras_are_compared_exactly() -> None:
    form = {"properties": {"name": {"type": "string"}}}
    result = agreement(
        form,
        {"name": "A", "qty": 1, "tags": ["x"], "memo": "Hello"},
        {"name": "a", "qty": 1, "tags": ["x"], "memo": "hello"},
    )
    assert result == {"name": True, "memo": False, "qty": True, "tags": True}


def test_agreement_region_reaches_phone_fields() -> None:
    form = {"properties": {"tel": {"type": "string", "format": "phone"}}}
    first, second = {"tel": "020 7946 0958"}, {"tel": "+44 20 7946 0958"}
    assert agreement(form, first, second, region="GB") == {"tel": True}
    assert agreement(form, first, second) == {"tel": False}


def test_agreement_without_properties_compares_every_key_exactly() -> None:
    assert agreement({}, {"a": 1, "b": "x"}, {"a": 1, "b": "X"}) == {"a": True, "b": False}


def test_agreement_with_bad_x_normalize_is_an_error() -> None:
    form = {"properties": {"a": {"type": "string", "x-normalize": "soundex"}}}
    with pytest.raises(ValueError, match="soundex"):
        agreement(form, {"a": "x"}, {"a": "x"})
