"""Gold items of a process with personal input fields: kept at rest as items are (masked
payload, clear values sealed to the row), each copy sealed again under its own id, and what
agents and staff see is masked. Checked with raw SQL on the real database."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.quality import gold
from tandem.quality.models import GoldItem
from tandem.vault.sealing import opened
from tandem.work.models import WorkItem
from tests.conftest import RESULT, World
from tests.quality.conftest import (
    CLEAR_PAYLOAD,
    GOLD_PAYLOAD,
    IN_CLEAR,
    MASKED,
    OPS,
    SEALED_VALUES,
    add_gold,
    claim_copy,
    personal_process,
    seed,
    seeded_copies,
    set_policy,
    stored,
)


def test_a_gold_item_is_stored_masked_its_clear_values_sealed_to_it(
    container: Container, world: World, api: Any
) -> None:
    process_id = personal_process(container, world)
    added = api("ops").post(
        "/api/v1/quality/gold-items",
        json={"process_id": str(process_id), "payload": GOLD_PAYLOAD, "answer": RESULT},
    )
    assert added.status_code == 201, added.text
    assert added.json()["payload"] == MASKED  # provider staff see the masks
    assert added.json()["answer"] == RESULT
    gold_id = uuid.UUID(added.json()["id"])
    ((row_id, (payload, sealed)),) = stored(container, "qa_gold_items").items()
    assert row_id == gold_id
    for clear in IN_CLEAR:
        assert clear not in payload
    assert json.loads(payload) == MASKED
    assert sealed is not None and sealed.startswith(container.keyring.prefix(1))
    # The card number is not kept, not even sealed: the client keeps it, Tandem its last four.
    assert container.keyring.open(world.client_id, gold_id, sealed) == SEALED_VALUES


def test_a_gold_copy_is_sealed_again_under_its_own_id_and_shown_masked(
    container: Container, world: World, api: Any
) -> None:
    process_id = personal_process(container, world)
    gold_id = add_gold(container, process_id)
    (copy_id,) = seeded_copies(container, world, process_id)
    _, gold_sealed = stored(container, "qa_gold_items")[gold_id]
    payload, sealed = stored(container, "work_items")[copy_id]
    for clear in IN_CLEAR:
        assert clear not in payload
    assert json.loads(payload) == MASKED
    assert sealed is not None and gold_sealed is not None and sealed != gold_sealed
    keyring = container.keyring
    assert keyring.open(world.client_id, copy_id, sealed) == SEALED_VALUES
    assert opened(keyring, world.client_id, copy_id, json.loads(payload), sealed) == CLEAR_PAYLOAD
    # A sealed value is bound to its row: the gold's does not open as the copy's, nor back.
    with pytest.raises(InvalidTag):
        keyring.open(world.client_id, copy_id, gold_sealed)
    with pytest.raises(InvalidTag):
        keyring.open(world.client_id, gold_id, sealed)

    lease = claim_copy(api, {copy_id})
    assert lease["payload"] == MASKED  # to the agent, a gold copy is an item like any other
    assert api("agent").get("/api/v1/dispatch/leases").json()[0]["payload"] == MASKED
    revealed = api("agent").post(
        f"/api/v1/leases/{copy_id}/reveal",
        json={"fields": ["applicant_name", "card_number"], "reason": "to check the spelling"},
    )
    assert revealed.json() == {
        "applicant_name": "Maria Santos",  # opened from the copy's own sealed value
        "card_number": MASKED["card_number"],
    }
    assert api("ops").get(f"/api/v1/work-items/{copy_id}").json()["payload"] == MASKED


def test_a_gold_item_stored_in_clear_before_is_copied_masked_and_sealed(
    container: Container, world: World
) -> None:
    """Gold items added before they were sealed (sealed NULL, clear payload) stay as they
    are, but their copies are stored as items are."""
    process_id = personal_process(container, world)
    with transaction(container.sessions) as session:
        session.add(
            GoldItem(
                client_id=world.client_id,
                process_id=process_id,
                payload=GOLD_PAYLOAD,
                answer=RESULT,
                created_at=container.clock.now(),
            )
        )
    (copy_id,) = seeded_copies(container, world, process_id)
    payload, sealed = stored(container, "work_items")[copy_id]
    assert json.loads(payload) == MASKED and sealed is not None
    assert container.keyring.open(world.client_id, copy_id, sealed) == SEALED_VALUES


def test_without_personal_fields_gold_items_and_copies_are_kept_as_given(
    container: Container, world: World
) -> None:
    set_policy(container, world.process_id, "none", gold_rate=1.0)
    given = {"document_ref": "gold-1.pdf", "pages": 2}
    with container.context(OPS) as ctx:
        gold_id = gold.add_gold_item(ctx, world.process_id, given, RESULT).id
    assert seed(container) == 0
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    world.submit(container, "real.pdf")
    assert seed(container) == 1
    ((row_id, (payload, sealed)),) = stored(container, "qa_gold_items").items()
    assert (row_id, json.loads(payload), sealed) == (gold_id, given, None)
    with transaction(container.sessions) as session:
        copy = session.scalars(select(WorkItem).where(WorkItem.gold.is_(True))).one()
        assert (copy.payload, copy.sealed) == (given, None)
