"""Personal fields encrypted at rest with the client's key, from the API and from files;
opened for the client, masked for staff; keys rotated with re-encryption in the background
while everything stays readable."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.custody import keys
from tandem.custody.models import KeyRotation
from tandem.intake.service import submit_item
from tandem.quality.models import Review
from tandem.tenancy.principal import SYSTEM
from tandem.vault.sealing import Keyring, key_ref
from tandem.work.models import WorkItem
from tests.conftest import FORM_SCHEMA, RESULT, World
from tests.quality.conftest import (
    SEALED_VALUES,
    add_gold,
    claim_copy,
    personal_process,
    seeded_copies,
)
from tests.quality.conftest import stored as stored_rows

INPUT = {
    "type": "object",
    "required": ["applicant_name"],
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "national_id": {"type": "string", "x-personal": "national_id"},
        "home_address": {"type": "string", "x-personal": "address"},
        "policy_type": {"type": "string"},
    },
}
PAYLOAD = {
    "applicant_name": "Maria Santos",
    "national_id": "PH-1234-5678",
    "home_address": "12 Rizal Street, Makati",
    "policy_type": "health",
}
CLEAR = ("Maria", "Santos", "1234-5678", "Rizal", "Makati")


def _process(container: Container, world: World, visible: list[str] | None = None) -> uuid.UUID:
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code=f"applications-{uuid.uuid4().hex[:6]}",
                name="Applications",
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        process.agent_visible_personal = visible or []
        return process.id


def _submit(container: Container, world: World, process_id: uuid.UUID, **payload: Any) -> uuid.UUID:
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(
            ctx,
            process_id,
            {**PAYLOAD, **payload},
            at_risk_fraction=0.75,
        )
        return item.id


def _stored(container: Container) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Each item's payload and sealed values as the database holds them (raw SQL)."""
    with container.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, payload, sealed FROM work_items")).all()
    return {
        uuid.UUID(str(row[0])): (
            row[1] if isinstance(row[1], str) else json.dumps(row[1]),
            row[2],
        )
        for row in rows
    }


def test_the_database_holds_no_personal_value_in_clear(
    container: Container, world: World, api: Any
) -> None:
    process_id = _process(container, world)
    one = _submit(container, world, process_id)
    csv = (
        b"applicant_name,national_id,home_address,policy_type\n"
        b'Maria Santos,PH-1234-5678,"12 Rizal Street, Makati",home\n'
    )
    uploaded = api("client").post(
        f"/api/v1/processes/{process_id}/batches", files={"file": ("apps.csv", csv)}
    )
    assert uploaded.status_code == 201, uploaded.text
    from_api = api("client").post(
        f"/api/v1/processes/{process_id}/work-items", json={"payload": PAYLOAD}
    )
    assert from_api.status_code == 201 and from_api.json()["payload"] == PAYLOAD
    stored = _stored(container)
    assert len(stored) == 3
    for payload, sealed in stored.values():
        assert sealed is not None and sealed.startswith(container.keyring.prefix(1))
        for clear in CLEAR:
            assert clear not in payload and clear not in sealed
        assert json.loads(payload)["applicant_name"] == "M••• S•••"
    # The client reads its own data in clear, from every route that shows an item.
    client = api("client")
    assert client.get(f"/api/v1/work-items/{one}").json()["payload"] == PAYLOAD
    listed = client.get("/api/v1/work-items", params={"process_id": str(process_id)}).json()
    assert {item["payload"]["applicant_name"] for item in listed} == {"Maria Santos"}


def test_staff_see_masks_and_agents_the_categories_their_process_allows(
    container: Container, world: World, api: Any
) -> None:
    process_id = _process(container, world, visible=["address"])
    item_id = _submit(container, world, process_id)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == str(item_id)
    assert lease["payload"] == {
        "applicant_name": "M••• S•••",
        "national_id": "••••••5678",
        "home_address": "12 Rizal Street, Makati",  # opened: the process lets agents see it
        "policy_type": "health",
    }
    assert api("agent").get("/api/v1/dispatch/leases").json()[0]["payload"] == lease["payload"]
    revealed = api("agent").post(
        f"/api/v1/leases/{item_id}/reveal",
        json={"fields": ["national_id"], "reason": "the applicant called to confirm it"},
    )
    assert revealed.json() == {"national_id": "PH-1234-5678"}
    ops = api("ops").get(f"/api/v1/work-items/{item_id}").json()["payload"]
    assert ops["applicant_name"] == "M••• S•••" and ops["home_address"] == "[hidden]"


def test_a_key_rotation_re_encrypts_in_the_background_and_everything_stays_readable(
    container: Container, world: World, api: Any
) -> None:
    process_id = _process(container, world)
    before = [_submit(container, world, process_id) for _ in range(5)]
    old_prefix = container.keyring.prefix(1)
    with container.context(SYSTEM) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
    assert rotation.target == container.keyring.prefix(2)
    after = _submit(container, world, process_id)
    assert _stored(container)[after][1].startswith(rotation.target)  # type: ignore[union-attr]
    with transaction(container.sessions) as session:  # a first batch of two
        assert (
            keys.advance(
                session, container.keyring, container.clock.now(), key=container.audit_key, batch=2
            )
            == 2
        )
    prefixes = sorted(str(sealed)[: len(old_prefix)] for _, sealed in _stored(container).values())
    assert prefixes.count(old_prefix) == 3
    for item_id in before:  # old and new keys both open meanwhile
        assert api("client").get(f"/api/v1/work-items/{item_id}").json()["payload"] == PAYLOAD
    # An intake that began before the rotation seals under the old key after the walk
    # passed its place (its id is older): the last check finds it, the walk starts over.
    straggler = before[0]
    with transaction(container.sessions) as session:
        item = session.get_one(WorkItem, (world.client_id, straggler))
        stale = Keyring(*container.settings.master_keys)
        item.sealed = stale.seal(world.client_id, 1, straggler, PAYLOAD)
    for _ in range(6):
        with transaction(container.sessions) as session:
            keys.advance(
                session, container.keyring, container.clock.now(), key=container.audit_key, batch=2
            )
    stored = _stored(container)
    assert all(str(sealed).startswith(rotation.target) for _, sealed in stored.values())
    with transaction(container.sessions) as session:
        done = session.scalars(select(KeyRotation)).one()
        assert done.finished_at is not None and done.resealed == 5 + 1
        actions = session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)).all()
    assert [a for a in actions if a.startswith("encryption_key")] == [
        "encryption_key.rotate",
        "encryption_key.rotated",
    ]
    for item_id in [*before, after]:
        assert api("client").get(f"/api/v1/work-items/{item_id}").json()["payload"] == PAYLOAD


def test_a_new_master_key_with_the_old_one_kept_until_re_encryption_is_done(
    container: Container, world: World
) -> None:
    process_id = _process(container, world)
    item_id = _submit(container, world, process_id)
    old_master, _ = container.settings.master_keys
    new_master = "the next master key, kept in a vault, 32+ chars"
    rotated = dataclasses.replace(
        container,
        settings=container.settings.model_copy(
            update={"master_key": new_master, "previous_master_keys": old_master}
        ),
    )
    with rotated.context(SYSTEM) as ctx:
        keys.rotate(ctx, world.client_id, actor="system:cli")
    with transaction(rotated.sessions) as session:
        keys.advance(session, rotated.keyring, rotated.clock.now(), key=rotated.audit_key)
    ((_, sealed),) = _stored(container).values()
    assert sealed is not None and key_ref(sealed) == (rotated.keyring.current.id, 2)
    only_new = Keyring(new_master)  # the old master key can now be retired
    assert only_new.open(world.client_id, item_id, sealed)["applicant_name"] == "Maria Santos"
    with pytest.raises(Exception, match="not configured"):
        Keyring(old_master).open(world.client_id, item_id, sealed)


def test_a_key_rotation_re_seals_gold_items_and_their_copies_still_score(
    container: Container, world: World, api: Any
) -> None:
    process_id = personal_process(container, world)
    gold_id = add_gold(container, process_id)
    (before,) = seeded_copies(container, world, process_id)
    with container.context(SYSTEM) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
    target = rotation.target
    for _ in range(3):  # the walk (the real item and the copy), then its end: the gold item
        with transaction(container.sessions) as session:
            keys.advance(session, container.keyring, container.clock.now(), key=container.audit_key)
    with transaction(container.sessions) as session:
        done = session.scalars(select(KeyRotation)).one()
        assert done.finished_at is not None and done.resealed == 2 + 1
    # Done means done: nothing of the client's is left under the old key, gold items included.
    ((_, gold_sealed),) = stored_rows(container, "qa_gold_items").values()
    assert gold_sealed is not None
    assert key_ref(gold_sealed) == (container.keyring.current.id, 2)
    assert container.keyring.open(world.client_id, gold_id, gold_sealed) == SEALED_VALUES
    items = stored_rows(container, "work_items")
    assert all(str(sealed).startswith(target) for _, sealed in items.values())
    assert container.keyring.open(world.client_id, before, str(items[before][1])) == SEALED_VALUES
    (after,) = seeded_copies(container, world, process_id)  # from the re-sealed gold item
    after_sealed = str(stored_rows(container, "work_items")[after][1])
    assert after_sealed.startswith(target)
    assert container.keyring.open(world.client_id, after, after_sealed) == SEALED_VALUES
    # Copies sealed before and after the rotation are scored against the known answer.
    for _ in range(2):
        lease = claim_copy(api, {before, after})
        submitted = api("agent").post(
            f"/api/v1/leases/{lease['item_id']}/submit",
            json={"attempt": lease["attempt"], "result": RESULT},
        )
        assert submitted.json()["state"] == "cancelled"  # scored and retired
    with transaction(container.sessions) as session:
        scored = session.scalars(select(Review).where(Review.kind == "gold")).all()
    assert {r.work_item_id for r in scored} == {before, after}
    assert not any(r.defect for r in scored)
    assert all(check["passed"] for r in scored for check in r.checks)


TICKET = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", "x-personal": "name"},
        "message": {"type": "string", "x-personal": "free_text"},
    },
}
MESSAGE = (
    "Hi, I was charged twice on my card 4111 1111 1111 1111 for order SW-1029. "
    "Please call me back on +44 7911 123456 or write to maria.santos@example.com."
)


def test_a_card_number_inside_a_ticket_message_is_masked_for_the_agent(
    container: Container, world: World, api: Any
) -> None:
    with transaction(container.sessions) as session:
        process_id = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="tickets",
                name="Tickets",
                kind="conversation",
                input_schema=TICKET,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        ).id
    submitted = api("client").post(
        f"/api/v1/processes/{process_id}/work-items",
        json={"payload": {"customer": "Maria Santos", "message": MESSAGE}},
    )
    assert submitted.status_code == 201, submitted.text
    item_id = submitted.json()["id"]
    shown = (
        "Hi, I was charged twice on my card [CARD ••••1111] for order SW-1029. "
        "Please call me back on [PHONE] or write to [EMAIL]."
    )
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["payload"] == {"customer": "M••• S•••", "message": shown}
    ((stored, sealed),) = _stored(container).values()
    assert json.loads(stored)["message"] == shown  # what the database holds in clear
    assert sealed is not None
    revealed = api("agent").post(
        f"/api/v1/leases/{item_id}/reveal",
        json={"fields": ["message"], "reason": "the customer asks which card was charged"},
    )
    # Kept sealed, in clear but for the card number: never kept, not even encrypted.
    kept = MESSAGE.replace("4111 1111 1111 1111", "[CARD ••••1111]")
    assert container.keyring.open(world.client_id, item_id, sealed)["message"] == kept
    assert revealed.json() == {"message": kept}
    client_view = api("client").get(f"/api/v1/work-items/{item_id}").json()["payload"]
    assert client_view["message"] == kept
