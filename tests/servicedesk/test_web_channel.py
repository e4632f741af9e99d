"""The service desk on the web, through the real server: the JSON channel for a client's own
site or app (scoped to the caller's client, inputs checked field by field, idempotent), and
the public pages' guards (same origin, rate limit, unknown links)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk.models import Conversation
from tandem.servicedesk.webchannel import link_hash
from tandem.work.models import WorkItem
from tests.servicedesk.conftest import Desk

BODY = {
    "name": "Maria Lopez",
    "email": "maria@example.com",
    "subject": "Where is my order?",
    "text": "Order 1234 has not arrived yet.",
    "external_id": "app-77",
}


def _fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def test_the_json_channel_begins_a_conversation_once_per_idempotency_key(
    desk: Desk, api: Any, container: Container, server: str
) -> None:
    path = f"/api/v1/brands/{desk.brand_id}/conversations"
    headers = {"Idempotency-Key": "order-1234-first"}
    first = api("client").post(path, json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    again = api("client").post(path, json=BODY, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    link = first.json()["link"]
    assert link.startswith(f"{server}/c/") and len(link.rsplit("/", 1)[1]) == 43
    reused = api("client").post(path, json={**BODY, "text": "else"}, headers=headers)
    assert reused.status_code == 422 and _fields(reused) == ["Idempotency-Key"]

    with transaction(container.sessions) as session:
        rows = session.scalars(select(Conversation)).all()
        assert len(rows) == 1
        conversation = rows[0]
        token = link.rsplit("/", 1)[1]
        assert conversation.link_hash == link_hash(token) and token not in str(
            conversation.__dict__
        )  # only its hash is in the row, the clear link sealed
        assert conversation.external_id == "app-77" and not conversation.unverified_sender
        item = session.get_one(WorkItem, (conversation.client_id, conversation.work_item_id))
        assert item.state == "queued" and item.payload["channel"] == "web"
    shown = api("client").get(f"/api/v1/conversations/{first.json()['conversation_id']}")
    assert shown.json()["messages"][0]["text"] == BODY["text"]
    page = httpx.get(link)
    assert page.status_code == 200 and "Where is my order?" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_another_clients_brand_is_a_404_and_bad_input_names_the_field(
    desk: Desk, api: Any, container: Container
) -> None:
    other = api("other_client").post(f"/api/v1/brands/{desk.brand_id}/conversations", json=BODY)
    assert other.status_code == 404, other.text
    path = f"/api/v1/brands/{desk.brand_id}/conversations"
    bad_email = api("client").post(path, json={**BODY, "email": "maria at example"})
    assert bad_email.status_code == 422 and _fields(bad_email) == ["email"]
    no_subject = api("client").post(path, json={k: v for k, v in BODY.items() if k != "subject"})
    assert no_subject.status_code == 422 and _fields(no_subject) == ["subject"]
    too_long = api("client").post(path, json={**BODY, "text": "x" * 20_001})
    assert too_long.status_code == 422 and _fields(too_long) == ["text"]
    two_lines = api("client").post(path, json={**BODY, "subject": "a\nb"})
    assert two_lines.status_code == 422 and _fields(two_lines) == ["subject"]
    agent = api("agent").post(path, json=BODY)
    assert agent.status_code == 403
    with transaction(container.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_the_public_pages_refuse_other_origins_unknown_links_and_floods(
    desk: Desk, server: str, container: Container
) -> None:
    form = {"name": "Maria", "email": "maria@example.com", "subject": "Hi", "text": "Hello"}
    with httpx.Client(base_url=server) as client:
        assert client.get("/help/nobrand/contact").status_code == 404
        forged = client.post(
            "/help/acme/contact", data=form, headers={"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403
        unknown = client.get("/c/" + "A" * 43)
        assert unknown.status_code == 404 and "no conversation" in unknown.text
        assert client.get("/c/short").status_code == 404
        sent = client.post("/help/acme/contact", data=form, headers={"Origin": server})
        assert sent.status_code == 303 and sent.headers["location"].endswith("/thanks")
        with transaction(container.sessions) as session:
            conversation = session.scalars(select(Conversation)).one()
            assert conversation.unverified_sender  # an address only typed on a public form
        statuses = [client.get("/help/acme/contact").status_code for _ in range(30)]
    assert statuses[-1] == 429 and statuses[0] == 200
