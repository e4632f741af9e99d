"""The client replaces an item's document while the item waits in the queue (a wrong or
unreadable scan sent): checked as at hand-over, the old one gone, audited with both
fingerprints; refused once an agent holds the item, for another client, and for bad files."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.documents.models import Document
from tests.conftest import World
from tests.documents import samples
from tests.documents.test_service import PDF, hand_over

RIGHT = samples.pdf(5)


def _replace(api: Any, who: str, item_id: str, data: bytes) -> Any:
    return api(who).put(
        f"/api/v1/work-items/{item_id}/document",
        files={"document": ("scan-right.pdf", data, "application/pdf")},
    )


def test_a_queued_items_document_is_replaced_and_audited(
    api: Any, world: World, container: Container
) -> None:
    item_id = hand_over(api, world, PDF).json()["id"]
    bad = _replace(api, "client", item_id, b"%PDF-1.7 not really")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "document"
    assert _replace(api, "other_client", item_id, RIGHT).status_code == 404
    assert _replace(api, "agent", item_id, RIGHT).status_code == 403

    replaced = _replace(api, "client", item_id, RIGHT)
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["pages"] == 5 and body["sha256"] == hashlib.sha256(RIGHT).hexdigest()
    with transaction(container.sessions) as session:
        kept = session.scalars(select(Document)).all()
        records = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "document.replace")
        ).all()
    assert [d.sha256 for d in kept] == [body["sha256"]]  # the wrong scan is gone
    [record] = records
    assert record.data["replaced_sha256"] == hashlib.sha256(PDF).hexdigest()
    assert record.subject == f"work_item:{item_id}"
    opened = api("client").post(f"/api/v1/work-items/{item_id}/document/openings").json()
    assert opened["pages"] == 5


def test_once_an_agent_holds_the_item_its_document_stays(api: Any, world: World) -> None:
    item_id = hand_over(api, world, PDF).json()["id"]
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == item_id
    refused = _replace(api, "client", item_id, RIGHT)
    assert refused.status_code == 409 and refused.json()["state"] == "leased"
    opened = api("agent").post(f"/api/v1/work-items/{item_id}/document/openings").json()
    assert opened["pages"] == 3  # the one the agent keys from
