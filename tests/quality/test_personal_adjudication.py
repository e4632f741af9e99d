"""Settling and checking personal fields at the QA desks: an adjudicator takes a keying's
value by its letter ({"take": "a"}), the server takes it in clear from the sealed keying, and
the right value is delivered sealed; nobody need see or retype it. Where a reviewer or an
adjudicator must see a value, they reveal it with a reason, audited, permissioned, only of
an item waiting for them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.intake.service import submit_item
from tandem.quality import double_entry, reveals
from tandem.quality.models import FieldCheck
from tandem.tenancy.principal import Principal
from tandem.vault.sealing import RESULT
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tests.conftest import World
from tests.quality.conftest import Person, set_policy, work

INPUT = {
    "type": "object",
    "required": ["document_ref"],
    "properties": {
        "document_ref": {"type": "string", "minLength": 1},
        "claimant": {"type": "string", "x-personal": "name"},
    },
}
FORM = {
    "type": "object",
    "required": ["holder_name", "decision"],
    "properties": {
        "holder_name": {"type": "string", "title": "Holder name", "x-personal": "name"},
        "account": {"type": "string", "title": "Account", "x-personal": "bank_account"},
        "card_number": {"type": "string", "title": "Card number", "x-personal": "card"},
        "decision": {"type": "string", "enum": ["pay", "deny"]},
    },
}
PAYLOAD = {"document_ref": "claim-0042.pdf", "claimant": "Jose Rizal"}
FIRST = {
    "holder_name": "Maria Santos",
    "account": "PL61109010140000071219812874",
    "card_number": "4111111111111111",
    "decision": "pay",
}
# The names differ by one letter: their masks are alike, their clear values are not.
SECOND = {**FIRST, "holder_name": "Maria Santoz", "account": "PL27114020040000300201355387"}
# What provider staff see of each keying, as stored.
FIRST_MASKED = {
    "holder_name": "M••• S•••",
    "account": "•" * 24 + "2874",
    "card_number": "••••••••••••1111",
    "decision": "pay",
}
SECOND_MASKED = {**FIRST_MASKED, "account": "•" * 24 + "5387"}
# Never at rest in clear: the names, the accounts' digits, the card's first digits.
IN_CLEAR = ("Santos", "Santoz", "1090101400000712198", "1140200400003002013", "41111111")
REVIEWER = Principal(uuid.UUID(int=21), "qa_reviewer", None, None)


def personal_process(container: Container, world: World) -> uuid.UUID:
    """A process of the insurer with a personal name in its input and a name, an account and
    a card number in its result form."""
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code=f"payouts-{uuid.uuid4().hex[:6]}",
                name="Payout keying",
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM,
                required_skills={"data_entry": 2},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        return process.id


def arrive(container: Container, world: World, process_id: uuid.UUID) -> uuid.UUID:
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(ctx, process_id, dict(PAYLOAD), at_risk_fraction=0.75)
        return item.id


def conflict(container: Container, world: World) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A double-entry item keyed twice, the keyings differing on the name and the account:
    (item id, first keyer, second keyer)."""
    process_id = personal_process(container, world)
    set_policy(container, process_id, "double_entry")
    item_id = arrive(container, world, process_id)
    (second,) = world.add_agents(container, 1)
    assert work(container, world.agent_id, FIRST).state is State.QUEUED
    assert work(container, second, SECOND).state is State.IN_REVIEW
    return item_id, world.agent_id, second


def in_review(container: Container, world: World) -> uuid.UUID:
    """An item of the process keyed (FIRST) under full review, waiting for a reviewer."""
    process_id = personal_process(container, world)
    set_policy(container, process_id, "full_review")
    item_id = arrive(container, world, process_id)
    assert work(container, world.agent_id, FIRST).state is State.IN_REVIEW
    return item_id


def stored(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


def at_rest(container: Container) -> str:
    """The items' results and every keying, as the database holds them (raw SQL)."""
    with container.engine.connect() as connection:
        rows = [
            *connection.execute(text("SELECT result, result_sealed FROM work_items")),
            *connection.execute(text('SELECT "values", sealed FROM qa_keyings')),
        ]
    return json.dumps([[str(value) for value in row] for row in rows], ensure_ascii=False)


def reveals_recorded(container: Container) -> list[tuple[str, str, dict[str, Any]]]:
    with transaction(container.sessions) as session:
        return [
            (record.actor, record.subject, record.data)
            for record in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.action == "personal_data.reveal")
                .order_by(AuditRecord.seq)
            )
        ]


def settle(container: Container, item_id: uuid.UUID, values: dict[str, Any]) -> WorkItem:
    with container.context(REVIEWER) as ctx:
        item = double_entry.adjudicate(ctx, item_id, values)
        ctx.session.expunge(item)
        return item


# -- settling by taking a keying's value ---------------------------------------------------


def test_taking_keying_a_on_a_personal_field_delivers_its_clear_value_sealed(
    container: Container, world: World, api: Any
) -> None:
    item_id, first, second = conflict(container, world)
    with container.context(REVIEWER) as ctx:
        case = double_entry.adjudication(ctx, item_id)
        assert sorted(case.disagreements) == ["account", "holder_name"]
        assert [k.values for k in case.keyings] == [FIRST_MASKED, SECOND_MASKED]

    # What the desk sends: choices, and the one value nobody keyed personal.
    settled = settle(
        container,
        item_id,
        {
            "holder_name": {"take": "a"},
            "account": {"take": "b"},
            "card_number": {"take": "a"},
            "decision": "pay",
        },
    )
    assert settled.state == "delivered"
    item = stored(container, item_id)
    assert item.result == SECOND_MASKED  # masked in the row: keying 2's account's last four
    assert item.result_sealed is not None
    assert container.keyring.open(world.client_id, item_id, item.result_sealed, RESULT) == {
        "holder_name": "Maria Santos",
        "account": SECOND["account"],
    }
    assert not any(clear in at_rest(container) for clear in IN_CLEAR)
    delivered = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert delivered["result"] == {
        "holder_name": "Maria Santos",  # keying 1's, as keyed
        "account": SECOND["account"],  # keying 2's
        "card_number": "••••••••••••1111",  # never kept whole, by anyone
        "decision": "pay",
    }
    # Each keyer scored against the values taken: one wrong name, one wrong account.
    with transaction(container.sessions) as session:
        failed = {
            (row.agent_id, row.field)
            for row in session.scalars(select(FieldCheck).where(FieldCheck.passed.is_(False)))
        }
    assert failed == {(second, "holder_name"), (first, "account")}


def test_taking_keying_b_and_typing_a_value_mix_in_one_settlement(
    container: Container, world: World, api: Any
) -> None:
    item_id, _, _ = conflict(container, world)
    settle(
        container,
        item_id,
        {
            "holder_name": {"take": "b"},
            "account": "PL10105000997603123456789123",  # typed: neither keying had it right
            "card_number": FIRST_MASKED["card_number"],  # left as shown: kept as it stood
            "decision": {"take": "a"},
        },
    )
    delivered = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert delivered["result"] == {
        "holder_name": "Maria Santoz",
        "account": "PL10105000997603123456789123",
        "card_number": "••••••••••••1111",
        "decision": "pay",
    }


def test_a_bad_choice_is_refused_naming_each_field_and_changes_nothing(
    container: Container, world: World
) -> None:
    item_id, _, _ = conflict(container, world)
    with pytest.raises(InvalidInput) as refused:
        settle(
            container,
            item_id,
            {
                "holder_name": {"take": "c"},
                "account": {"take": 1},
                "nickname": {"take": "a"},
                "decision": "pay",
            },
        )
    assert [(e["field"], e["message"]) for e in refused.value.extra["errors"]] == [
        ("values.holder_name", "take 'a' (keying 1's value) or 'b' (keying 2's value)"),
        ("values.account", "take 'a' (keying 1's value) or 'b' (keying 2's value)"),
        (
            "values.nickname",
            "is not a field of the result form: there is no keying's value to take",
        ),
    ]
    # The masked name, left as shown, stands for two values: refused as before.
    with pytest.raises(InvalidInput, match="masked value"):
        settle(container, item_id, {**FIRST_MASKED, "account": {"take": "a"}})
    assert stored(container, item_id).state == "in_review"


# -- the API -------------------------------------------------------------------------------


@pytest.fixture
def login(server: str) -> Iterator[Any]:
    opened: list[httpx.Client] = []

    def client(who: Person) -> httpx.Client:
        opened.append(
            httpx.Client(
                base_url=server, headers={"Authorization": f"Bearer {who.token}"}, timeout=30
            )
        )
        return opened[-1]

    yield client
    for c in opened:
        c.close()


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


def test_the_api_takes_choices_beside_typed_values_and_names_a_bad_one(
    container: Container, world: World, api: Any, person: Any, login: Any
) -> None:
    item_id, _, _ = conflict(container, world)
    path = f"/api/v1/quality/adjudications/{item_id}"
    adjudicator = login(person("qa_reviewer"))
    case = adjudicator.get(path).json()
    assert case["masked"] == ["account", "card_number", "holder_name"]
    assert [k["values"] for k in case["keyings"]] == [FIRST_MASKED, SECOND_MASKED]
    assert not any(clear in json.dumps(case, ensure_ascii=False) for clear in IN_CLEAR)

    bad = adjudicator.post(
        path, json={"values": {"holder_name": {"take": "z"}, "account": {"take": "a"}}}
    )
    assert _fields(bad) == ["values.holder_name"]
    missing = adjudicator.post(path, json={"values": {"holder_name": {"take": "a"}}})
    assert _fields(missing) == ["values.decision"]
    done = adjudicator.post(
        path,
        json={
            "values": {"holder_name": {"take": "b"}, "account": {"take": "a"}, "decision": "deny"}
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "delivered"
    assert "Santoz" not in done.text  # the adjudicator's answer is masked as staff see it
    delivered = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert delivered["result"] == {
        "holder_name": "Maria Santoz",
        "account": FIRST["account"],
        "decision": "deny",
    }


# -- reveals at the desks ------------------------------------------------------------------


def test_an_adjudicator_reveals_a_keyings_value_with_a_reason_audited(
    container: Container, world: World, person: Any, login: Any
) -> None:
    item_id, _, second = conflict(container, world)
    path = f"/api/v1/quality/reviews/{item_id}/reveal"
    reason = "the names differ by a letter: which one is on the form?"
    adjudicator_person = person("qa_reviewer")
    adjudicator = login(adjudicator_person)
    shown = adjudicator.post(
        path, json={"of": "keying2", "fields": ["holder_name", "account"], "reason": reason}
    )
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"holder_name": "Maria Santoz", "account": SECOND["account"]}
    source = adjudicator.post(path, json={"fields": ["claimant"], "reason": reason})
    assert source.json() == {"claimant": "Jose Rizal"}  # the payload, by default
    actor = f"user:{adjudicator_person.principal.user_id}"
    assert reveals_recorded(container) == [
        (
            actor,
            f"work_item:{item_id}",
            {"fields": ["account", "holder_name"], "of": "keying2", "reason": reason},
        ),
        (
            actor,
            f"work_item:{item_id}",
            {"fields": ["claimant"], "of": "payload", "reason": reason},
        ),
    ]

    # Refused, and nothing recorded: no reason, a field not personal, a part it has not.
    assert _fields(adjudicator.post(path, json={"of": "keying1", "fields": ["account"]})) == [
        "reason"
    ]
    not_personal = {"of": "keying1", "fields": ["decision"], "reason": reason}
    assert _fields(adjudicator.post(path, json=not_personal)) == ["fields"]
    no_result = {"of": "result", "fields": ["holder_name"], "reason": reason}
    assert _fields(adjudicator.post(path, json=no_result)) == ["of"]
    assert _fields(adjudicator.post(path, json={**no_result, "of": "keying3"})) == ["of"]
    # Only for someone the item waits for, who holds the permission.
    keyer = Principal(uuid.uuid4(), "team_lead", None, second)
    with container.context(keyer) as ctx, pytest.raises(NotFound):
        reveals.reveal_for_review(ctx, item_id, "keying1", ["holder_name"], reason)
    body = {"of": "keying1", "fields": ["holder_name"], "reason": reason}
    assert login(person("agent", agent=True)).post(path, json=body).status_code == 403
    assert login(person("ops_manager")).post(path, json=body).status_code == 403
    assert len(reveals_recorded(container)) == 2


def test_a_reviewer_reveals_the_results_masked_value_with_a_reason_audited(
    container: Container, world: World, person: Any, login: Any
) -> None:
    item_id = in_review(container, world)
    path = f"/api/v1/quality/reviews/{item_id}/reveal"
    reviewer_person = person("qa_reviewer")
    reviewer = login(reviewer_person)
    case = reviewer.get(f"/api/v1/quality/reviews/{item_id}").json()
    assert case["result"] == FIRST_MASKED
    reason = "the scan's name is smudged: checking the spelling keyed"
    shown = reviewer.post(path, json={"of": "result", "fields": ["holder_name"], "reason": reason})
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"holder_name": "Maria Santos"}
    assert reveals_recorded(container) == [
        (
            f"user:{reviewer_person.principal.user_id}",
            f"work_item:{item_id}",
            {"fields": ["holder_name"], "of": "result", "reason": reason},
        )
    ]
    # An item in review has no keyings; its own agent reveals nothing of it here.
    keying = {"of": "keying1", "fields": ["holder_name"], "reason": reason}
    assert _fields(reviewer.post(path, json=keying)) == ["of"]
    own = Principal(uuid.uuid4(), "team_lead", None, world.agent_id)
    with container.context(own) as ctx, pytest.raises(Conflict):
        reveals.reveal_for_review(ctx, item_id, "result", ["holder_name"], reason)
    assert len(reveals_recorded(container)) == 1
