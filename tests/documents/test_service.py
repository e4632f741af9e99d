"""An item handed over with its document over the API: checked by content, sealed at rest,
opened only by the agent holding the lease, a reviewer or the client (each opening audited),
its pages drawn for a ticket of that opening."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, text

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.service import create_user, issue_token
from tandem.work.models import WorkItem
from tests.conftest import RESULT, World, _agent
from tests.documents import samples
from tests.quality.conftest import set_policy

PDF = samples.pdf(3)


def hand_over(
    api: Any,
    world: World,
    data: bytes,
    *,
    name: str = "scan-90980136.pdf",
    key: str | None = None,
    who: str = "client",
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    response: httpx.Response = api(who).post(
        f"/api/v1/processes/{world.process_id}/work-items/with-document",
        data={"payload": json.dumps({"document_ref": name})},
        files={"document": (name, data, "application/pdf")},
        headers=headers,
    )
    return response


def _opening(api: Any, who: str, item_id: str) -> httpx.Response:
    response: httpx.Response = api(who).post(f"/api/v1/work-items/{item_id}/document/openings")
    return response


def _page(api: Any, who: str, item_id: str, ticket: str, **query: Any) -> httpx.Response:
    response: httpx.Response = api(who).get(
        f"/api/v1/work-items/{item_id}/document/page", params={"ticket": ticket, **query}
    )
    return response


def _openings(container: Container, item_id: str) -> list[dict[str, Any]]:
    with transaction(container.sessions) as session:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "document.open")
            .where(AuditRecord.subject == f"work_item:{item_id}")
            .order_by(AuditRecord.seq)
        ).all()
        return [{"actor": row.actor, **row.data} for row in rows]


@pytest.fixture
def agent_token(container: Container, world: World) -> str:
    """Another agent cleared for the insurer, holding no lease on the item."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(session, email="z@provider.example", name="Z", role="agent", now=now)
        _agent(session, [world.client_id], user_id=user.id)
        return issue_token(session, user.id, "test", now)


def test_an_item_arrives_with_its_document_sealed_at_rest(
    api: Any, world: World, container: Container
) -> None:
    created = hand_over(api, world, PDF)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    with container.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT work_item_id, media_type, pages, size, sha256, sealed_with, content "
                "FROM documents"
            )
        ).one()
    assert (str(row[0]).replace("-", ""), row[1], row[2], row[3]) == (
        item_id.replace("-", ""),
        "application/pdf",
        3,
        len(PDF),
    )
    assert row[5] == container.keyring.prefix(1)
    sealed = bytes(row[6])
    assert len(sealed) == len(PDF) + 12 + 16  # nonce and tag around the ciphertext
    # Nothing of the document is at rest in clear: not its header, not a run of its bytes.
    assert b"%PDF" not in sealed and b"Application page" not in sealed
    assert all(PDF[at : at + 16] not in sealed for at in range(0, len(PDF) - 16, 512))


def test_a_document_is_checked_by_its_content_and_a_bad_one_keeps_the_item_out(
    api: Any, world: World, container: Container
) -> None:
    png = hand_over(api, world, samples.image("PNG"), name="scan-1.pdf")  # a PNG named .pdf
    assert png.status_code == 201, png.text
    with transaction(container.sessions) as session:
        assert session.scalar(text("SELECT media_type FROM documents")) == "image/png"
    for data, says in (
        (b"MZ" + b"\x00" * 300, "not a PDF, TIFF, JPEG or PNG"),
        (PDF[:-300], "truncated"),
        (samples.png_bomb(), "too many pixels"),
    ):
        refused = hand_over(api, world, data)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {"field": "document", "message": refused.json()["detail"]}
        ]
        assert says in refused.json()["detail"]
    not_json = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items/with-document",
        data={"payload": "document_ref=x"},
        files={"document": ("x.pdf", PDF, "application/pdf")},
    )
    assert not_json.status_code == 422
    assert not_json.json()["errors"][0]["field"] == "payload"
    with transaction(container.sessions) as session:  # only the PNG's item came in
        assert session.scalar(text("SELECT count(*) FROM work_items")) == 1
        assert session.scalar(text("SELECT count(*) FROM documents")) == 1


def test_an_oversized_document_is_refused(
    api: Any, world: World, container: Container, server: str
) -> None:
    container.settings.document_max_bytes = 10_000
    refused = hand_over(api, world, PDF)
    assert refused.status_code == 422
    assert "larger than the 10,000 bytes" in refused.json()["detail"]


def test_a_retry_with_the_same_document_replays_and_another_document_is_refused(
    api: Any, world: World
) -> None:
    first = hand_over(api, world, PDF, key="scan-42")
    again = hand_over(api, world, PDF, key="scan-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = hand_over(api, world, samples.pdf(2), key="scan-42")
    assert other.status_code == 422
    assert "different" in other.json()["detail"]


def test_only_the_lease_holder_opens_the_document_and_each_opening_is_audited(
    api: Any, world: World, container: Container, agent_token: str, server: str
) -> None:
    item_id = hand_over(api, world, PDF).json()["id"]
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {agent_token}"}
    ) as other_agent:
        # Before anyone holds it: no agent finds it.
        assert _opening(api, "agent", item_id).status_code == 404
        claimed = api("agent").post("/api/v1/dispatch/claim")
        assert claimed.json()["item_id"] == item_id
        attempt = claimed.json()["attempt"]
        opened = _opening(api, "agent", item_id)
        assert opened.status_code == 201, opened.text
        body = opened.json()
        assert (body["media_type"], body["pages"], body["width"], body["height"]) == (
            "application/pdf",
            3,
            200.0,
            260.0,
        )
        ticket = body["ticket"]
        page = _page(api, "agent", item_id, ticket, number=2, scale=1.5, rotate=90)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "image/webp"
        assert "no-store" in page.headers["cache-control"]
        assert Image.open(io.BytesIO(page.content)).size == (390, 300)
        png = _page(api, "agent", item_id, ticket, format="png")
        assert png.headers["content-type"] == "image/png"
        beyond = _page(api, "agent", item_id, ticket, number=4)
        assert beyond.status_code == 422
        assert beyond.json()["errors"][0]["field"] == "number"
        assert _page(api, "agent", item_id, "1." + "A" * 43).status_code == 403
        # Anyone else: the agent without the lease, even with the ticket, and the other
        # client find no item; operations staff may not open documents at all.
        missing = str(uuid.uuid4())
        for response in (
            other_agent.post(f"/api/v1/work-items/{item_id}/document/openings"),
            other_agent.get(
                f"/api/v1/work-items/{item_id}/document/page", params={"ticket": ticket}
            ),
            _opening(api, "other_client", item_id),
        ):
            assert response.status_code == 404
            assert response.json()["detail"] == f"work item {item_id} not found"
        assert _opening(api, "other_client", missing).json()["detail"] == (
            f"work item {missing} not found"
        )
        assert _opening(api, "ops", item_id).status_code == 403
        # The client's own people may open what they handed over.
        assert _opening(api, "client", item_id).status_code == 201
        released = api("agent").post(f"/api/v1/leases/{item_id}/release", json={"attempt": attempt})
        assert released.status_code in (200, 204)
        assert _page(api, "agent", item_id, ticket).status_code == 404  # the lease is over
        assert api("agent").post("/api/v1/dispatch/claim").json()["item_id"] == item_id
        # The item leased again: the earlier opening's ticket no longer draws pages.
        assert _page(api, "agent", item_id, ticket).status_code == 403
        assert _opening(api, "agent", item_id).status_code == 201
    openings = _openings(container, item_id)
    assert [(o["actor"].split(":")[0], o["as"]) for o in openings] == [
        ("agent", "lease"),
        ("user", "client"),
        ("agent", "lease"),
    ]
    assert all(o["pages"] == 3 for o in openings)


def test_an_item_without_a_document_has_none_to_open(api: Any, world: World) -> None:
    created = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": "paper.pdf"}},
    )
    item_id = created.json()["id"]
    assert api("agent").post("/api/v1/dispatch/claim").json()["item_id"] == item_id
    none = _opening(api, "agent", item_id)
    assert none.status_code == 404
    assert none.json()["detail"] == f"work item {item_id} has no document"


def test_a_reviewer_opens_the_document_of_an_item_in_review_not_its_agent(
    api: Any, world: World, container: Container, server: str
) -> None:
    set_policy(container, world.process_id, "full_review")
    item_id = hand_over(api, world, PDF).json()["id"]
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    submitted = api("agent").post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": lease["attempt"], "result": RESULT}
    )
    assert submitted.json()["state"] == "in_review", submitted.text
    now = container.clock.now()
    with transaction(container.sessions) as session:
        reviewer = create_user(
            session, email="q@provider.example", name="Q", role="qa_reviewer", now=now
        )
        token = issue_token(session, reviewer.id, "test", now)
    assert _opening(api, "agent", item_id).status_code == 404  # the lease ended at submit
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as qa:
        opened = qa.post(f"/api/v1/work-items/{item_id}/document/openings")
        assert opened.status_code == 201, opened.text
        page = qa.get(
            f"/api/v1/work-items/{item_id}/document/page",
            params={"ticket": opened.json()["ticket"], "number": 3},
        )
        assert page.status_code == 200
    assert [o["as"] for o in _openings(container, item_id)] == ["review"]
    with transaction(container.sessions) as session:
        assert session.get_one(WorkItem, (world.client_id, uuid.UUID(item_id))).state == (
            "in_review"
        )
