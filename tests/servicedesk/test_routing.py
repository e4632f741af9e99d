"""Who answers a customer's answer: first the agent who last wrote to them, while they may
take it (leased to them for TANDEM_DESK_BACK_TO_AGENT_MINUTES, then the queue's, as a lapsed
lease is); the queue at once when they are off shift. And a team lead's takeover of a
conversation waiting for an answer, for themselves or a named agent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.servicedesk.models import Conversation, Message
from tandem.work.models import WorkItem
from tandem.workforce.models import Shift
from tests.servicedesk.conftest import Desk
from tests.servicedesk.test_email_in import FIRST

ANSWER = (
    "From: Maria Santos <maria@example.com>\n"
    "To: support@acme.example\n"
    "Subject: Re: My parcel has not arrived\n"
    "Message-ID: <again-1@mail.example.com>\n"
    "In-Reply-To: <{parent}>\n"
    "Content-Type: text/plain; charset=utf-8\n\n"
    "It has not come yet.\n"
)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _answered(container: Container, desk: Desk, api: Any) -> str:
    """The customer's first mail, answered by the world's agent: the answer's Message-ID."""
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
        return str(
            session.scalars(select(Message.message_id).where(Message.direction == "out")).one()
        )


def _work(container: Container) -> WorkItem:
    with transaction(container.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        return session.get_one(WorkItem, (conversation.client_id, conversation.work_item_id))


def test_an_answer_goes_first_to_the_agent_who_wrote_then_to_the_queue(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    parent = _answered(container, desk, api)
    desk.send(ANSWER.format(parent=parent))
    item = _work(container)
    assert (item.state, item.lease_owner) == ("leased", desk.world.agent_id)
    assert item.lease_expires_at == clock.now() + timedelta(minutes=15)
    held = _ok(api("agent").get("/api/v1/dispatch/leases"))
    assert [lease["item_id"] for lease in held] == [str(item.id)]
    clock.advance(timedelta(minutes=16))  # not opened: the queue's
    with transaction(container.sessions) as session:
        assert container.dispatcher.reap(session) == 1
    assert _work(container).state == "queued"


def test_an_answer_goes_to_the_queue_when_the_agent_is_off_shift(
    container: Container, desk: Desk, api: Any
) -> None:
    parent = _answered(container, desk, api)
    with transaction(container.sessions) as session:
        session.execute(delete(Shift).where(Shift.agent_id == desk.world.agent_id))
    desk.send(ANSWER.format(parent=parent))
    item = _work(container)
    assert (item.state, item.lease_owner) == ("queued", None)


def test_a_lead_takes_a_conversation_over_for_an_agent(
    container: Container, desk: Desk, api: Any
) -> None:
    desk.send(FIRST)
    with transaction(container.sessions) as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
    path = f"/api/v1/conversations/{conversation_id}/takeover"
    no_profile = api("ops").post(path, json={})
    assert no_profile.status_code == 422
    assert [e["field"] for e in no_profile.json()["errors"]] == ["agent_id"]
    assert api("client").post(path, json={}).status_code == 403
    assert api("agent").post(path, json={}).status_code == 403
    elsewhere = api("ops").post(path, json={"agent_id": str(uuid.uuid4())})
    assert elsewhere.status_code == 422  # no such agent
    taken = _ok(api("ops").post(path, json={"agent_id": str(desk.world.agent_id)}))
    assert taken["state"] in ("new", "open")
    item = _work(container)
    assert (item.state, item.lease_owner) == ("leased", desk.world.agent_id)
    # Answered and waiting on the customer: nothing to take over.
    lease = _ok(api("agent").get("/api/v1/dispatch/leases"))[0]
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": lease["attempt"], "text": "On its way."},
        ),
        201,
    )
    waiting = api("ops").post(path, json={"agent_id": str(desk.world.agent_id)})
    assert waiting.status_code == 409 and waiting.json()["state"] == "pending"
