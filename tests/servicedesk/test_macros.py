"""Macros through the real server: kept by the desk's managers (variables checked, titles
unique per brand, another client's brand a 404), and sent by an agent: the variables filled
in with the customer's clear name (which the agent sees only masked), the macro's actions
applied (tags, the state it leaves, the priority of the conversation's next work)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk.models import Conversation
from tandem.work.models import WorkItem
from tests.servicedesk.conftest import Desk, Sink
from tests.servicedesk.test_email_in import FIRST
from tests.servicedesk.test_email_out import _send

ANSWER = {
    "title": "Parcel on its way",
    "body": "Hello {{ customer.first_name }},\n\nyour parcel left today.\n\n{{agent.first_name}}",
    "add_tags": ["Shipping", "parcel"],
    "then": "solved",
    "priority": 7,
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def test_managers_keep_a_brands_macros_and_nobody_else_does(desk: Desk, api: Any) -> None:
    path = f"/api/v1/brands/{desk.brand_id}/macros"
    made = _ok(api("ops").post(path, json=ANSWER), 201)
    assert made["add_tags"] == ["shipping", "parcel"] and made["then"] == "solved"
    assert api("ops").post(path, json=ANSWER).status_code == 409  # one title per brand
    typo = api("ops").post(path, json={**ANSWER, "title": "Typo", "body": "Hi {{customer.frist}}"})
    assert typo.status_code == 422 and _fields(typo) == ["body"]
    assert "customer.frist" in typo.json()["errors"][0]["message"]
    wrong = api("ops").post(path, json={**ANSWER, "title": "Wrong", "then": "closed"})
    assert wrong.status_code == 422
    two_words = api("ops").post(path, json={**ANSWER, "title": "Tags", "add_tags": ["a b"]})
    assert two_words.status_code == 422 and _fields(two_words) == ["add_tags"]
    for who in ("agent", "client", "other_client"):
        assert api(who).post(path, json={**ANSWER, "title": who}).status_code in (403, 404)
    other = f"/api/v1/brands/{desk.other_brand_id}/macros"
    assert _ok(api("ops").get(other)) == []  # provider staff serve every client's brands
    changed = _ok(
        api("ops").put(f"/api/v1/macros/{made['id']}", json={**ANSWER, "title": "Parcel sent"})
    )
    assert [m["title"] for m in _ok(api("ops").get(path))] == [changed["title"]]
    other = _ok(api("ops").post(path, json={**ANSWER, "title": "Other"}), 201)
    taken = api("ops").put(f"/api/v1/macros/{other['id']}", json={**ANSWER, "title": "Parcel sent"})
    assert taken.status_code == 409  # the title another has (it was a 500)
    _ok(api("ops").delete(f"/api/v1/macros/{other['id']}"), 204)
    _ok(api("ops").delete(f"/api/v1/macros/{made['id']}"), 204)
    assert _ok(api("ops").get(path)) == []
    assert api("ops").delete(f"/api/v1/macros/{made['id']}").status_code == 404


def test_an_agent_answers_with_a_macro_its_variables_filled_and_its_actions_applied(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    macro = _ok(api("ops").post(f"/api/v1/brands/{desk.brand_id}/macros", json=ANSWER), 201)
    foreign = _ok(api("ops").post(f"/api/v1/brands/{desk.other_brand_id}/macros", json=ANSWER), 201)
    desk.send(FIRST)  # from Maria Santos
    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    conversation_id = lease["payload"]["conversation_id"]
    path = f"/api/v1/conversations/{conversation_id}/replies"
    reply = {"attempt": lease["attempt"], "text": ANSWER["body"]}
    refused = api("agent").post(path, json={**reply, "macro_id": foreign["id"]})
    assert refused.status_code == 422 and _fields(refused) == ["macro_id"]
    written = _ok(api("agent").post(path, json={**reply, "macro_id": macro["id"]}), 201)
    assert written["conversation_state"] == "solved"  # the macro's, none asked for

    assert _send(container, sink.relay) == 1
    [(_, _, sent)] = sink.received
    body = sent.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Maria,\n\nyour parcel left today.\n\nA")  # the agent: "A"
    assert "{{" not in text
    with transaction(container.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.tags == ["shipping", "parcel"] and conversation.priority == 7

    # The customer writes again: the conversation's new work has the macro's priority.
    answered = sent["Message-ID"]
    desk.send(
        FIRST.replace("<first-1@mail.example.com>", "<again-1@mail.example.com>").replace(
            "Subject: My parcel", f"In-Reply-To: {answered}\nSubject: Re: My parcel"
        )
    )
    with transaction(container.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        item = session.get_one(WorkItem, (conversation.client_id, conversation.work_item_id))
        assert item.state in ("queued", "leased") and item.priority == 7
