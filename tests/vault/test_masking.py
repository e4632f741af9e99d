"""Masking of personal fields, pure."""

from __future__ import annotations

import pytest

from tandem.vault.masking import (
    check_categories,
    kept_personal,
    mask,
    mask_payload,
    mask_trace,
    personal_fields,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "card_number": {"type": "string", "x-personal": "card"},
        "home": {"type": "string", "x-personal": "address"},
        "policy_type": {"type": "string"},
    },
}


@pytest.mark.parametrize(
    ("value", "category", "masked"),
    [
        ("4111 1111 1111 1111", "card", "••••••••••••1111"),
        ("GB82 WEST 1234 5698 7654 32", "bank_account", "••••••••••••••••••5432"),
        ("123", "national_id", "••••"),
        ("Maria de la Cruz", "name", "M••• d••• l••• C•••"),
        ("Maria Santos", "name", "M••• S•••"),
        ("  Maria\t Santos ", "name", "M••• S•••"),
        ("Maria", "name", "M•••"),
        ("   ", "name", ""),
        (12345678, "national_id", "••••5678"),
        ("maria@example.com", "contact", "[hidden]"),
        ("[hidden]", "contact", "[hidden]"),
        ("M••• S•••", "name", "M••• S•••"),
        ("anything", "a category of the future", "[hidden]"),
        ("12 High Street", "address", "[hidden]"),
        ("diabetes", "health", "[hidden]"),
        ("••••••••••••1111", "card", "••••••••••••1111"),  # idempotent
        (None, "card", None),
        ("", "name", ""),
    ],
)
def test_each_category_masks_its_own_way(value: str | None, category: str, masked: str) -> None:
    assert mask(value, category) == masked


def test_only_personal_fields_of_hidden_categories_are_masked() -> None:
    fields = personal_fields(SCHEMA)
    assert fields == {"applicant_name": "name", "card_number": "card", "home": "address"}
    payload = {
        "applicant_name": "Maria Santos",
        "card_number": "4111111111111111",
        "home": "12 High Street",
        "policy_type": "health",
    }
    assert mask_payload(payload, fields, visible={"name"}) == {
        "applicant_name": "Maria Santos",
        "card_number": "••••••••••••1111",
        "home": "[hidden]",
        "policy_type": "health",
    }


def test_unknown_categories_are_named() -> None:
    bad = {"properties": {"ssn": {"type": "string", "x-personal": "secret"}}}
    assert check_categories(bad, "form_schema")[0]["field"] == "form_schema.properties.ssn"
    assert check_categories(SCHEMA, "input_schema") == []


def test_a_trace_is_masked_by_where_each_value_came_from() -> None:
    """A value from a hidden category is masked as the payload masks that field, one from
    several hidden categories is hidden; values from visible categories, values from no
    personal field and the row's other entries stay as they are; the trace is not changed."""
    trace = [
        {
            "node": "Facts",
            "type": "expressionNode",
            "set": {
                "applicant_name": "Maria Santos",  # a personal field itself, re-set by a rule
                "applicant": "Maria Santos",  # a copy of it
                "bmi": 36.5,
                "summary": "Maria Santos, BMI 36.5",  # from the name and the BMI
                "score": 25,
                "missing": None,
            },
            "matched": ["BMI 35 or more"],
        },
        {"node": "Route", "type": "switchNode", "set": {}},
    ]
    sources = {
        "applicant_name": frozenset({"name"}),
        "applicant": frozenset({"name"}),
        "bmi": frozenset({"health"}),
        "summary": frozenset({"name", "health"}),
        "missing": frozenset({"name", "health"}),
    }
    assert mask_trace(trace, sources, visible={"health"}) == [
        {
            "node": "Facts",
            "type": "expressionNode",
            "set": {
                "applicant_name": "M••• S•••",
                "applicant": "M••• S•••",
                "bmi": 36.5,
                "summary": "M••• S••• B••• 3•••",  # only the name is hidden from this reader
                "score": 25,
                "missing": None,
            },
            "matched": ["BMI 35 or more"],
        },
        {"node": "Route", "type": "switchNode", "set": {}},
    ]
    hidden = mask_trace(trace, sources)
    assert hidden[0]["set"]["bmi"] == hidden[0]["set"]["summary"] == "[hidden]"
    assert hidden[0]["set"]["applicant"] == "M••• S•••"
    assert mask_trace(trace, sources, visible={"name", "health"}) == trace
    assert trace[0]["set"]["applicant"] == "Maria Santos"  # a copy was masked, not the trace


def test_a_value_left_as_shown_masked_keeps_what_it_stood_for_if_only_one() -> None:
    first = ({"name": "M••• S•••", "amount": 5}, {"name": "Maria Santos", "amount": 5})
    second = ({"name": "M••• S•••", "amount": 6}, {"name": "Maria Santoz", "amount": 6})
    same = ({"name": "M••• S•••"}, {"name": "Maria Santos"})
    left = {"name": "M••• S•••", "amount": 7}
    assert kept_personal(left, [first]) == {"name": "Maria Santos", "amount": 7}
    assert kept_personal(left, [first, same]) == {"name": "Maria Santos", "amount": 7}
    assert kept_personal(left, [first, second]) == left  # stood for two: the caller refuses
    assert kept_personal({"name": "Jose Rizal"}, [first]) == {"name": "Jose Rizal"}
