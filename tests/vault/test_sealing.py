"""Sealing personal fields with a key per client (no database)."""

from __future__ import annotations

import uuid

import pytest
from cryptography.exceptions import InvalidTag

from tandem.vault.sealing import RESULT, Keyring, KeyUnavailable, key_ref, sealing

MASTER = "a master key of at least thirty-two characters"
NEW_MASTER = "the next master key, also thirty-two characters"
FIELDS = {"applicant_name": "name", "national_id": "national_id", "card_number": "card"}
PAYLOAD = {
    "applicant_name": "Maria Santos",
    "national_id": "123-45-6789",
    "card_number": "4111 1111 1111 1111",
    "document_ref": "scan-1",
}


def _split(keyring: Keyring, item_id: uuid.UUID, version: int = 1) -> tuple[dict, str | None]:
    plan = sealing(FIELDS)
    assert plan is not None
    return plan.split(keyring.sealer(7, version), item_id, PAYLOAD)


def test_personal_fields_are_stored_masked_and_sealed_cards_never_in_clear() -> None:
    keyring, item_id = Keyring(MASTER), uuid.uuid4()
    stored, sealed = _split(keyring, item_id)
    assert stored == {
        "applicant_name": "M••• S•••",
        "national_id": "•••••6789",
        "card_number": "••••••••••••1111",
        "document_ref": "scan-1",
    }
    assert sealed is not None and sealed.startswith(keyring.prefix(1))
    for clear in ("Maria", "Santos", "123-45-6789", "4111"):
        assert clear not in sealed
    opened = keyring.open(7, item_id, sealed)
    assert opened == {"applicant_name": "Maria Santos", "national_id": "123-45-6789"}


def test_a_sealed_value_opens_only_for_its_client_and_item() -> None:
    keyring, item_id = Keyring(MASTER), uuid.uuid4()
    _, sealed = _split(keyring, item_id)
    assert sealed is not None
    with pytest.raises(InvalidTag):
        keyring.open(7, uuid.uuid4(), sealed)  # copied onto another item
    with pytest.raises(InvalidTag):
        keyring.open(8, item_id, sealed)  # another client's key
    body = sealed.rsplit(".", 1)[1]
    tampered = sealed[: -len(body)] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(InvalidTag):
        keyring.open(7, item_id, tampered)
    assert keyring.open(7, item_id.hex, sealed)["applicant_name"] == "Maria Santos"


def test_each_sealing_uses_a_fresh_nonce() -> None:
    keyring, item_id = Keyring(MASTER), uuid.uuid4()
    assert _split(keyring, item_id)[1] != _split(keyring, item_id)[1]


def test_old_keys_open_until_rotation_is_done() -> None:
    item_id = uuid.uuid4()
    old = Keyring(MASTER)
    _, sealed_v1 = _split(old, item_id, version=1)
    assert sealed_v1 is not None
    rotated = Keyring(NEW_MASTER, previous=[MASTER])
    assert key_ref(sealed_v1) == (old.current.id, 1)
    assert rotated.open(7, item_id, sealed_v1)["national_id"] == "123-45-6789"
    _, sealed_v2 = _split(rotated, item_id, version=2)
    assert sealed_v2 is not None and key_ref(sealed_v2) == (rotated.current.id, 2)
    assert rotated.open(7, item_id, sealed_v2)["national_id"] == "123-45-6789"
    with pytest.raises(KeyUnavailable, match=old.current.id):
        Keyring(NEW_MASTER).open(7, item_id, sealed_v1)


def test_items_without_personal_values_seal_nothing() -> None:
    plan = sealing(FIELDS)
    assert plan is not None
    stored, sealed = plan.split(Keyring(MASTER).sealer(7, 1), uuid.uuid4(), {"document_ref": "x"})
    assert (stored, sealed) == ({"document_ref": "x"}, None)
    only_card = sealing({"card_number": "card"})
    assert only_card is not None
    stored, sealed = only_card.split(
        Keyring(MASTER).sealer(7, 1), uuid.uuid4(), {"card_number": "4111111111111111"}
    )
    assert (stored, sealed) == ({"card_number": "••••••••••••1111"}, None)
    assert sealing({}) is None


def test_a_chunk_is_split_in_order_each_value_bound_to_its_own_item() -> None:
    keyring = Keyring(MASTER)
    plan = sealing({**FIELDS, "email": "contact"})
    assert plan is not None
    items: list[tuple[uuid.UUID | str, dict[str, object]]] = []
    for n in range(50):
        item_id = uuid.uuid4()
        payload: dict[str, object] = {"document_ref": f"scan-{n}"}
        if n % 3 == 0:
            payload["applicant_name"] = f"Person {n}"
        if n % 5 == 0:
            payload["email"] = f"p{n}@example.com"
        if n % 7 == 0:
            payload["card_number"] = "4111 1111 1111 1111"  # cut, never sealed
        items.append((item_id if n % 2 else item_id.hex, payload))
    split = plan.split_many(keyring.sealer(7, 1, RESULT), items)
    assert len(split) == len(items)
    for (item_id, payload), (stored, sealed) in zip(items, split, strict=True):
        assert stored["document_ref"] == payload["document_ref"]
        clear = {k: v for k, v in payload.items() if k in ("applicant_name", "email")}
        if not clear:
            assert sealed is None
            continue
        assert sealed is not None
        assert stored.get("email", "[hidden]") == "[hidden]"
        assert keyring.open(7, item_id, sealed, RESULT) == clear
        with pytest.raises(InvalidTag):
            keyring.open(7, item_id, sealed)  # not the item's input
    sealed_values = [sealed for _, sealed in split if sealed]
    assert len(set(sealed_values)) == len(sealed_values)  # a nonce of its own each


def test_a_value_sealed_before_still_opens() -> None:
    """The stored format: a value sealed by an earlier version of this module (this very
    string, its nonce drawn at random then) opens, and one sealed now has the same shape."""
    item_id = uuid.UUID("0193a3f4-c2b5-7c3e-8d9f-1a2b3c4d5e6f")
    earlier = (
        "v1.bb00a0c8.1.xSO7zIfIQZJwuYNBvnvxTK/mPwYhGYEdcHWjsbauAkpsVmKCnOmZ7juYaH5w+uhNq5zhEkB"
        "deHcNOR8fxA=="
    )
    keyring = Keyring(MASTER)
    assert key_ref(earlier) == (keyring.current.id, 1)
    assert keyring.open(7, item_id, earlier) == {"applicant_name": "Maria Santos"}
    now = keyring.seal(7, 1, item_id, {"applicant_name": "Maria Santos"})
    assert now.startswith(keyring.prefix(1)) and len(now) == len(earlier)
    assert keyring.open(7, item_id, now) == {"applicant_name": "Maria Santos"}


def test_a_short_master_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        Keyring("too short")
