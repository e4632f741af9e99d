"""Gold items carry a document where the process's items do: made from a delivered item, each
copy in the queue gets its document sealed again, and the agent holding a copy opens it as
any other; a gold item without one, on such a process, is refused and never copied."""

from __future__ import annotations

import io
import random
import uuid
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.documents.gold import GOLD_DOCUMENTS
from tandem.documents.models import Document
from tandem.quality import gold
from tandem.work.models import WorkItem
from tests.conftest import RESULT, World
from tests.documents import samples
from tests.documents.test_service import _opening, _page, hand_over
from tests.quality.conftest import set_policy

PDF = samples.pdf(2)


def _seed(container: Container) -> int:
    with transaction(container.sessions) as session:
        return gold.seed_gold(
            session,
            container.clock.now(),
            random.Random(1),
            0.75,
            keyring=container.keyring,
            documents=GOLD_DOCUMENTS,
        )


def _deliver(api: Any, item_id: str) -> None:
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == item_id, lease
    submitted = api("agent").post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": lease["attempt"], "result": RESULT}
    )
    assert submitted.json()["state"] == "delivered", submitted.text


def _add_gold(api: Any, world: World, from_item: str | None = None) -> Any:
    body: dict[str, Any] = {
        "process_id": str(world.process_id),
        "payload": {"document_ref": "scan-11112222.pdf"},
        "answer": RESULT,
    }
    if from_item is not None:
        body["from_item_id"] = from_item
    return api("ops").post("/api/v1/quality/gold-items", json=body)


def _documents(container: Container, client_id: int) -> dict[uuid.UUID, Document]:
    with transaction(container.sessions) as session:
        rows = session.scalars(select(Document).where(Document.client_id == client_id)).all()
        for row in rows:
            _ = row.content  # loaded while the session is open
        session.expunge_all()
        return {row.work_item_id: row for row in rows}


def test_a_gold_copy_carries_its_document_and_its_agent_opens_it_like_any_other(
    api: Any, world: World, container: Container
) -> None:
    set_policy(container, world.process_id, "none", gold_rate=1.0)
    # A gold item added while the process had no documents: allowed then, left out later.
    assert _add_gold(api, world).status_code == 201
    assert _seed(container) == 0  # the gold job starts counting
    source = hand_over(api, world, PDF).json()["id"]
    _deliver(api, source)
    made = _add_gold(api, world, from_item=source)
    assert made.status_code == 201, made.text
    assert made.json()["id"] == source  # the gold item is that item, known-answer
    again = _add_gold(api, world, from_item=source)
    assert again.status_code == 409, again.text
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    for _ in range(3):
        hand_over(api, world, PDF, name=f"scan-{uuid.uuid4().hex[:8]}.pdf")
    assert _seed(container) == 3  # one for each item arrived since the last pass
    documents = _documents(container, world.client_id)
    with transaction(container.sessions) as session:
        copies = set(session.scalars(select(WorkItem.id).where(WorkItem.gold.is_(True))))
    assert len(copies) == 3
    original = documents[uuid.UUID(source)]
    for copy_id in copies:  # every copy carries the document, sealed again for it
        copied = documents[copy_id]
        assert copied.id != original.id
        assert (copied.sha256, copied.pages, copied.media_type) == (
            original.sha256,
            2,
            "application/pdf",
        )
        assert copied.content != original.content
        assert copied.sealed_with == container.keyring.prefix(1)
    # The agent works through the queue; a copy comes as any item does, with its document.
    seen = 0
    for _ in range(6):
        lease = api("agent").post("/api/v1/dispatch/claim").json()
        item_id = lease["item_id"]
        opened = _opening(api, "agent", item_id)
        assert opened.status_code == 201, opened.text
        assert opened.json()["pages"] == 2
        page = _page(api, "agent", item_id, opened.json()["ticket"], format="png", number=2)
        assert page.status_code == 200, page.text
        assert Image.open(io.BytesIO(page.content)).size == (200, 260)
        if uuid.UUID(item_id) in copies:
            seen += 1
            assert _opening(api, "client", item_id).status_code == 404  # gold: not the client's
        submitted = api("agent").post(
            f"/api/v1/leases/{item_id}/submit", json={"attempt": lease["attempt"], "result": RESULT}
        )
        assert submitted.status_code == 200, submitted.text
    assert seen == 3
    assert api("agent").post("/api/v1/dispatch/claim").status_code in (204, 404)


def test_a_gold_item_without_a_document_is_refused_where_items_come_with_documents(
    api: Any, world: World, container: Container
) -> None:
    set_policy(container, world.process_id, "none", gold_rate=1.0)
    plain = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": "paper.pdf"}},
    )
    plain_id = plain.json()["id"]
    assert _add_gold(api, world).status_code == 201  # no item has come with a document yet
    scanned = hand_over(api, world, PDF).json()["id"]
    refused = _add_gold(api, world)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "from_item_id"
    assert "told apart" in refused.json()["errors"][0]["message"]
    not_delivered = _add_gold(api, world, from_item=scanned)
    assert not_delivered.status_code == 422
    assert "is not delivered" in not_delivered.json()["detail"]
    _deliver(api, plain_id)
    no_document = _add_gold(api, world, from_item=plain_id)
    assert no_document.status_code == 422
    assert "has no document" in no_document.json()["detail"]
    assert _add_gold(api, world, from_item=str(uuid.uuid4())).status_code == 404
    # The gold item added before documents came is not copied now: its copies would lack one.
    assert _seed(container) == 0
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    hand_over(api, world, PDF, name="scan-33334444.pdf")
    assert _seed(container) == 0
    with transaction(container.sessions) as session:
        assert not session.scalars(select(WorkItem.id).where(WorkItem.gold.is_(True))).all()
