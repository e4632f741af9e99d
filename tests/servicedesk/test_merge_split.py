"""Merging two conversations of a brand (the customer wrote twice about one thing) and
splitting one (a second question in the same thread), by the desk's managers over the real
server: messages move with their mail, the source closes with a note, work follows, audited;
another brand's conversation, a closed one, or a message that is not the customer's are
refused by name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk.models import Conversation, Message
from tests.servicedesk.conftest import Desk
from tests.servicedesk.test_email_in import FIRST

SECOND = (
    FIRST.replace("<first-1@mail.example.com>", "<second-1@mail.example.com>")
    .replace("My parcel has not arrived", "Where is my parcel?")
    .replace("still have not received", "am still waiting for")
)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _conversations(container: Container) -> dict[str, Conversation]:
    with transaction(container.sessions) as session:
        return {c.subject: c for c in session.scalars(select(Conversation))}


def test_two_conversations_are_merged_into_one(container: Container, desk: Desk, api: Any) -> None:
    desk.send(FIRST)
    desk.send(SECOND)
    by_subject = _conversations(container)
    first, second = by_subject["My parcel has not arrived"], by_subject["Where is my parcel?"]
    path = f"/api/v1/conversations/{second.id}/merge"
    itself = api("ops").post(path, json={"into": str(second.id)})
    assert itself.status_code == 422 and itself.json()["errors"][0]["field"] == "into"
    assert api("client").post(path, json={"into": str(first.id)}).status_code == 403
    merged = _ok(api("ops").post(path, json={"into": str(first.id)}))
    assert merged["id"] == str(first.id) and merged["state"] in ("new", "open")
    shown = _ok(api("ops").get(f"/api/v1/conversations/{first.id}"))
    texts = [m["text"] for m in shown["messages"]]
    assert len(texts) == 2 and any("am still waiting" in t for t in texts)
    closed = _ok(api("ops").get(f"/api/v1/conversations/{second.id}"))
    assert closed["state"] == "closed" and "merged" in closed["tags"]
    assert closed["messages"][-1]["direction"] == "note"
    assert str(first.id) in closed["messages"][-1]["text"]
    again = api("ops").post(path, json={"into": str(first.id)})
    assert again.status_code == 409  # closed now
    with transaction(container.sessions) as session:
        actions = session.scalars(select(AuditRecord.action)).all()
    assert "conversation.merge" in actions
    # Only one open work item is left: the merged conversation's.
    claimed = _ok(api("agent").post("/api/v1/dispatch/claim"))
    assert claimed["payload"]["conversation_id"] == str(first.id)
    assert api("agent").post("/api/v1/dispatch/claim").status_code == 204


def test_another_brands_conversation_is_not_merged(
    container: Container, desk: Desk, api: Any
) -> None:
    desk.send(FIRST)
    desk.send(
        SECOND.replace("support@acme.example", "support@other.example"), to="support@other.example"
    )
    by_subject = _conversations(container)
    ours, theirs = by_subject["My parcel has not arrived"], by_subject["Where is my parcel?"]
    refused = api("ops").post(
        f"/api/v1/conversations/{ours.id}/merge", json={"into": str(theirs.id)}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "into"


def test_a_second_question_is_split_into_a_conversation_of_its_own(
    container: Container, desk: Desk, api: Any
) -> None:
    desk.send(FIRST)
    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    conversation_id = lease["payload"]["conversation_id"]
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": lease["attempt"], "text": "It left today."},
        ),
        201,
    )
    with transaction(container.sessions) as session:
        ours = session.scalars(select(Message.message_id).where(Message.direction == "out")).one()
    desk.send(
        FIRST.replace("<first-1@mail.example.com>", "<q2-1@mail.example.com>")
        .replace("Subject: My parcel", f"In-Reply-To: <{ours}>\\nSubject: Re: My parcel")
        .replace("still have not received the parcel", "also want to change my address")
    )
    shown = _ok(api("ops").get(f"/api/v1/conversations/{conversation_id}"))
    first_in, _, second_in = shown["messages"]
    path = f"/api/v1/conversations/{conversation_id}/split"
    for wrong in (first_in["id"], shown["messages"][1]["id"]):  # the first; our reply
        refused = api("ops").post(path, json={"message_id": wrong})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "message_id"
    made = _ok(api("ops").post(path, json={"message_id": second_in["id"]}), 201)
    assert made["id"] != conversation_id and "split" in made["tags"]
    assert made["subject"] == "My parcel has not arrived"
    new = _ok(api("ops").get(f"/api/v1/conversations/{made['id']}"))
    assert [m["id"] for m in new["messages"]] == [second_in["id"]]
    assert new["work_item_id"] is not None  # work of its own
    old = _ok(api("ops").get(f"/api/v1/conversations/{conversation_id}"))
    assert [m["direction"] for m in old["messages"]] == ["in", "out", "note"]
    client_view = _ok(api("client").get(f"/api/v1/conversations/{made['id']}"))
    assert "change my address" in client_view["messages"][0]["text"]
