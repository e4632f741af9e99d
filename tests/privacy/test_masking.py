"""Masking of personal fields, pure."""

from __future__ import annotations

import pytest

from tandem.privacy.masking import check_categories, mask, mask_payload, personal_fields

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
