"""Results kept as inputs are: the personal fields of a process's result form masked in the
item, their clear values sealed with the client's key and bound to the item's result; opened
for the client (API, portal, export), masked for provider staff, kept through a reviewer's
correction and through double entry (whose keyings are sealed too)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.custody import keys, retention
from tandem.custody.models import KeyRotation
from tandem.delivery.webhooks import deliver_due
from tandem.dispatch.service import Dispatcher
from tandem.intake.service import ingest_file
from tandem.quality import double_entry, gold, reviews
from tandem.quality.models import FieldCheck, Review
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.vault.sealing import RESULT
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tests.conftest import INPUT_SCHEMA, LOCAL, World
from tests.delivery.test_delivery import Receiver
from tests.quality.conftest import OPS, seed, set_policy, work

FORM = {
    "type": "object",
    "required": ["holder_name", "decision"],
    "properties": {
        "holder_name": {"type": "string", "x-personal": "name"},
        "account": {"type": "string", "x-personal": "bank_account"},
        "card_number": {"type": "string", "x-personal": "card"},
        "decision": {"type": "string", "enum": ["pay", "deny"]},
    },
}
KEYED = {
    "holder_name": "Maria Santos",
    "account": "PL61109010140000071219812874",
    "card_number": "4111111111111111",
    "decision": "pay",
}
# What the client gets back: the card cut to its last four (never kept whole).
CLEAR = {**KEYED, "card_number": "••••••••••••1111"}
# What provider staff see, and what the item holds at rest.
MASKED = {
    "holder_name": "M••• S•••",
    "account": "•" * 24 + "2874",
    "card_number": "••••••••••••1111",
    "decision": "pay",
}
IN_CLEAR = ("Maria", "Santos", "1090101400000712198", "41111111")
REVIEWER = Principal(uuid.UUID(int=11), "team_lead", None, None)


@pytest.fixture
def process_id(container: Container, world: World) -> uuid.UUID:
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="payouts",
                name="Payout keying",
                kind="data_entry",
                input_schema=INPUT_SCHEMA,
                form_schema=FORM,
                required_skills={"data_entry": 2},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        return process.id


def _arrive(container: Container, world: World, process_id: uuid.UUID) -> uuid.UUID:
    """One item, in a file of its own (so that its batch can be exported)."""
    with transaction(container.sessions):
        report = ingest_file(
            container.sessions,
            world.client_user,
            process_id,
            io.BytesIO(b"document_ref\nclaim-form.pdf\n"),
            filename="one.csv",
            clock=container.clock,
            at_risk_fraction=0.75,
            keyring=container.keyring,
        )
    return report.id


def _at_rest(container: Container, table: str, columns: str) -> list[str]:
    """Rows as the database holds them, as text: raw SQL, nothing of ours in between."""
    rows = _raw(container, f"SELECT {columns} FROM {table}")
    return [json.dumps([str(value) for value in row], ensure_ascii=False) for row in rows]


def _item(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


def _only_item(container: Container) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem)).one()
        session.expunge(item)
        return item


def test_a_result_is_sealed_at_rest_and_opened_for_the_client_only(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    batch_id = _arrive(container, world, process_id)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    submitted = api("agent").post(
        f"/api/v1/leases/{lease['item_id']}/submit",
        json={"attempt": lease["attempt"], "result": KEYED},
    )
    assert submitted.status_code == 200 and submitted.json()["state"] == "delivered"

    rows = _at_rest(container, "work_items", "result, result_sealed")
    assert not any(clear in row for row in rows for clear in IN_CLEAR)
    item = _only_item(container)
    assert item.result == MASKED and item.result_sealed is not None

    url = f"/api/v1/work-items/{item.id}"
    assert api("client").get(url).json()["result"] == CLEAR
    assert api("ops").get(url).json()["result"] == MASKED
    portal = api("client").get(f"/console/portal/items/{item.id}").text
    assert "Maria Santos" in portal and "PL61109010140000071219812874" in portal
    exported = api("client").get(f"/api/v1/batches/{batch_id}/results?format=jsonl")
    assert json.loads(exported.text)["result"] == CLEAR
    csv = api("client").get(f"/api/v1/batches/{batch_id}/results?format=csv").text
    assert "Maria Santos" in csv and "4111111111111111" not in csv


def test_a_sealed_result_opens_only_as_its_own_items_result(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    _arrive(container, world, process_id)
    work(container, world.agent_id, KEYED)
    item = _only_item(container)
    assert item.result_sealed is not None
    keyring = container.keyring
    assert keyring.open(world.client_id, item.id, item.result_sealed, RESULT) == {
        "holder_name": "Maria Santos",
        "account": "PL61109010140000071219812874",
    }
    with pytest.raises(InvalidTag):  # not as the item's input
        keyring.open(world.client_id, item.id, item.result_sealed)
    with pytest.raises(InvalidTag):  # not as another item's result
        keyring.open(world.client_id, uuid.uuid4(), item.result_sealed, RESULT)


def test_a_submit_from_a_process_that_did_not_lease_the_item_seals_it_too(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    """The dispatcher knows an item's process from its own claims; another server process
    reads it first, so the one update never writes the clear values."""
    _arrive(container, world, process_id)
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
    assert lease is not None
    elsewhere = Dispatcher(container.clock, container.keyring)
    with transaction(container.sessions) as session:
        elsewhere.submit(session, world.agent_id, lease.item_id, lease.attempt, dict(KEYED))
    assert _item(container, lease.item_id).result == MASKED
    assert not any(
        clear in row
        for row in _at_rest(container, "work_items", "result, result_sealed")
        for clear in IN_CLEAR
    )


def test_a_masked_value_handed_in_as_a_result_is_refused_naming_the_field(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    _arrive(container, world, process_id)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    refused = api("agent").post(
        f"/api/v1/leases/{lease['item_id']}/submit",
        json={"attempt": lease["attempt"], "result": {**KEYED, "holder_name": "M••• S•••"}},
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["holder_name"]
    assert _only_item(container).state == State.LEASED.value


def test_a_reviewers_correction_keeps_the_values_they_saw_masked(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    set_policy(container, process_id, "full_review")
    _arrive(container, world, process_id)
    ref = work(container, world.agent_id, KEYED)
    assert ref.state is State.IN_REVIEW
    shown = _item(container, ref.id).result
    assert shown == MASKED  # what the reviewer sees
    with container.context(REVIEWER) as ctx:
        reviews.review(
            ctx,
            ref.id,
            failures=[reviews.Failure("decision", "wrong_value")],
            verdict="correct",
            corrected={**shown, "decision": "deny"},
            lease=container.dispatcher.lease,
        )
    delivered = api("client").get(f"/api/v1/work-items/{ref.id}").json()
    assert delivered["state"] == "delivered"
    assert delivered["result"] == {**CLEAR, "decision": "deny"}


def test_double_entry_keyings_are_sealed_compared_in_clear_and_settled(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    set_policy(container, process_id, "double_entry")
    _arrive(container, world, process_id)
    first = work(container, world.agent_id, KEYED)
    assert first.state is State.QUEUED
    (second_agent,) = world.add_agents(container, 1)
    # The names differ by one letter: their masks are alike, their clear values are not.
    second = work(container, second_agent, {**KEYED, "holder_name": "Maria Santoz"})
    assert second.state is State.IN_REVIEW
    keyings = _at_rest(container, "qa_keyings", '"values", sealed')
    assert len(keyings) == 2
    assert not any(clear in row for row in keyings for clear in (*IN_CLEAR, "Santoz"))

    with container.context(REVIEWER) as ctx:
        case = double_entry.adjudication(ctx, first.id)
        assert case.disagreements == ["holder_name"]
        assert [k.values["holder_name"] for k in case.keyings] == ["M••• S•••"] * 2
        shown = {**case.keyings[0].values}

    def settle(values: dict[str, Any]) -> WorkItem:
        with container.context(REVIEWER) as ctx:
            item = double_entry.adjudicate(ctx, first.id, values)
            ctx.session.expunge(item)
            return item

    # Left masked, the differing name stands for two values: the adjudicator must key it.
    with pytest.raises(InvalidInput, match="masked value") as refused:
        settle(shown)
    assert [e["field"] for e in refused.value.extra["errors"]] == ["holder_name"]
    settle({**shown, "holder_name": "Maria Santos"})
    delivered = api("client").get(f"/api/v1/work-items/{first.id}").json()
    assert delivered["result"] == CLEAR  # the account, left masked, kept its clear value


def test_a_webhook_event_waits_sealed_and_is_sent_in_clear(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    receiver = Receiver([200])
    assert api("client").post("/api/v1/webhooks", json={"url": receiver.url}).status_code == 201
    _arrive(container, world, process_id)
    work(container, world.agent_id, KEYED)
    waiting = _at_rest(container, "webhook_deliveries", "payload, result_sealed")
    assert len(waiting) == 1 and not any(clear in waiting[0] for clear in IN_CLEAR)
    with httpx.Client() as http:
        sent = deliver_due(
            container.sessions,
            container.clock,
            http,
            max_attempts=3,
            timeout_s=5.0,
            keyring=container.keyring,
            allowed=LOCAL,
        )
    assert sent == 1
    ((_, body),) = receiver.requests
    assert json.loads(body)["data"]["result"] == CLEAR


def _keyed_twice_over(api: Any, container: Container, world: World, process_id: uuid.UUID) -> None:
    """A delivered item (with its webhook event) and a double-entry item keyed once."""
    assert api("client").post("/api/v1/webhooks", json={"url": "https://hooks.example/in"})
    _arrive(container, world, process_id)
    assert work(container, world.agent_id, KEYED).state is State.DELIVERED
    set_policy(container, process_id, "double_entry")
    _arrive(container, world, process_id)
    assert work(container, world.agent_id, KEYED).state is State.QUEUED


def test_a_key_rotation_reseals_results_keyings_and_webhook_events(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    _keyed_twice_over(api, container, world, process_id)
    with container.context(SYSTEM) as ctx:
        keys.rotate(ctx, world.client_id)
    for _ in range(10):
        with transaction(container.sessions) as session:
            keys.advance(
                session, container.keyring, container.clock.now(), key=container.audit_key, batch=1
            )
    with transaction(container.sessions) as session:
        assert session.scalars(select(KeyRotation.finished_at)).one() is not None
    new_key = container.keyring.prefix(2)
    sealed = [
        value
        for table, column in (
            ("work_items", "result_sealed"),
            ("qa_keyings", "sealed"),
            ("webhook_deliveries", "result_sealed"),
        )
        for (value,) in _raw(container, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
    ]
    assert len(sealed) == 3 and all(value.startswith(new_key) for value in sealed)
    delivered = api("client").get("/api/v1/work-items?state=delivered").json()
    assert [item["result"] for item in delivered] == [CLEAR]


def test_the_purge_drops_a_results_sealed_values_and_the_exit_export_opens_them_all(
    api: Any, container: Container, world: World, process_id: uuid.UUID, tmp_path: Any
) -> None:
    _keyed_twice_over(api, container, world, process_id)
    with transaction(container.sessions) as session:
        manifest = retention.export_client(session, container.keyring, world.client_id, tmp_path)
    assert manifest["files"]["work_items.jsonl"]["rows"] == 2

    def exported(table: str) -> list[dict[str, Any]]:
        lines = (tmp_path / f"{table}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    assert [row["result"] for row in exported("work_items") if row["result"]] == [CLEAR]
    assert [row["values"] for row in exported("qa_keyings")] == [CLEAR]
    assert [row["payload"]["data"]["result"] for row in exported("webhook_deliveries")] == [CLEAR]
    assert not any("sealed" in key for row in exported("work_items") for key in row)

    with container.context(SYSTEM) as ctx:
        retention.set_retention(ctx, world.client_id, 1)
    container.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    with transaction(container.sessions) as session:
        retention.purge_due(session, container.clock.now(), key=container.audit_key, batch=100)
    (result, result_sealed) = _raw(
        container, "SELECT result, result_sealed FROM work_items WHERE delivered_at IS NOT NULL"
    )[0]
    assert result_sealed is None and "Maria" not in str(result)


def _raw(container: Container, sql: str) -> list[Any]:
    with container.engine.connect() as connection:
        return list(connection.execute(text(sql)).all())


def test_a_gold_items_answer_is_sealed_and_still_scores(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    set_policy(container, process_id, "none", gold_rate=1.0)
    with container.context(OPS) as ctx:
        gold.add_gold_item(ctx, process_id, {"document_ref": "known.pdf"}, dict(KEYED))
    answers = _raw(container, "SELECT answer, answer_sealed FROM qa_gold_items")
    assert not any(clear in str(row) for row in answers for clear in IN_CLEAR)
    assert seed(container) == 0  # starts counting arrivals
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    _arrive(container, world, process_id)
    assert seed(container) == 1
    for _ in range(2):  # the real item and the gold copy, both keyed right
        work(container, world.agent_id, KEYED)
    with transaction(container.sessions) as session:
        checks = session.execute(
            select(FieldCheck.field, FieldCheck.passed)
            .join(
                Review,
                (Review.client_id == FieldCheck.client_id) & (Review.id == FieldCheck.review_id),
            )
            .where(Review.kind == "gold")
        ).all()
    assert checks and all(passed for _, passed in checks)


def test_two_keyings_alike_but_for_the_card_digits_never_kept_agree(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    """The first keying is kept with its card cut to the last four: the second is compared
    with it as it will be kept, so the same card number agrees."""
    set_policy(container, process_id, "double_entry")
    _arrive(container, world, process_id)
    first = work(container, world.agent_id, KEYED)
    (second_agent,) = world.add_agents(container, 1)
    assert work(container, second_agent, KEYED).state is State.DELIVERED
    assert api("client").get(f"/api/v1/work-items/{first.id}").json()["result"] == CLEAR


def test_a_submit_for_an_item_leased_to_someone_else_answers_as_for_a_missing_one(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    """Sealing a result reads the item's process first, but only the holder's: anyone else,
    even with a result that would be refused, learns nothing a missing item would not say."""
    _arrive(container, world, process_id)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    masked = {"attempt": lease["attempt"], "result": {**KEYED, "holder_name": "M••• S•••"}}
    other = api("other_agent")
    theirs = other.post(f"/api/v1/leases/{lease['item_id']}/submit", json=masked)
    missing_id = uuid.uuid4()
    missing = other.post(f"/api/v1/leases/{missing_id}/submit", json=masked)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == {
        **missing.json(),
        "detail": missing.json()["detail"].replace(str(missing_id), lease["item_id"]),
        "request_id": theirs.json()["request_id"],  # each answer's own
    }


def test_a_reworked_items_form_is_filled_without_its_masked_values(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    """Sent back to its agent, an item's earlier result fills the workbench form, but a
    masked value is not a value to hand in again: those fields are left for the agent."""
    set_policy(container, process_id, "full_review")
    _arrive(container, world, process_id)
    ref = work(container, world.agent_id, KEYED)
    with container.context(REVIEWER) as ctx:
        reviews.review(
            ctx,
            ref.id,
            failures=[reviews.Failure("holder_name", "wrong_value")],
            verdict="rework",
            rework_to="same",
            reason="check the name",
            lease=container.dispatcher.lease,
        )
    page = api("agent").get(f"/console/work/{ref.id}")
    assert page.status_code == 200, page.text
    form = page.text.split("<form", 1)[1]
    assert "<option selected>pay</option>" in form  # the decision, kept
    assert "•" not in form and "Maria" not in page.text  # no mask, no clear name
