"""Documents under custody: re-sealed by a key rotation (and still drawn), removed by the
retention purge, handed back in clear and deleted at the client's exit."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody import keys, retention
from tandem.custody.models import KeyRotation
from tandem.documents.models import Document
from tandem.tenancy.principal import SYSTEM
from tandem.vault.sealing import DOCUMENT
from tests.conftest import RESULT, World
from tests.documents import samples
from tests.documents.test_service import PDF, hand_over


def _delivered_with_document(api: Any, world: World, data: bytes = PDF) -> str:
    item_id: str = hand_over(api, world, data).json()["id"]
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == item_id
    done = api("agent").post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": lease["attempt"], "result": RESULT}
    )
    assert done.json()["state"] == "delivered", done.text
    return item_id


def _documents(container: Container) -> list[tuple[str, str, bytes]]:
    """(item id, sealed_with, sealed bytes) of every document, as the database holds them."""
    with container.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT work_item_id, sealed_with, content FROM documents")
        ).all()
    return [(str(uuid.UUID(str(r[0]))), r[1], bytes(r[2])) for r in rows]


def test_a_key_rotation_re_seals_documents_and_their_pages_still_show(
    api: Any, world: World, container: Container
) -> None:
    items = [hand_over(api, world, samples.pdf(n)).json()["id"] for n in (1, 2, 3)]
    before = {item: sealed for item, _, sealed in _documents(container)}
    with container.context(SYSTEM) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
    for _ in range(6):  # the items, then the documents beside them, then the end
        with transaction(container.sessions) as session:
            keys.advance(session, container.keyring, container.clock.now(), key=container.audit_key)
    with transaction(container.sessions) as session:
        done = session.scalars(select(KeyRotation)).one()
        assert done.finished_at is not None
        assert done.resealed == 3  # the items have nothing personal sealed: the documents
        for document in session.scalars(select(Document)):
            clear = container.keyring.open_bytes(
                world.client_id, document.id, document.sealed_with, document.content, DOCUMENT
            )
            assert hashlib.sha256(clear).hexdigest() == document.sha256
    after = _documents(container)
    assert {sealed_with for _, sealed_with, _ in after} == {rotation.target}
    assert all(before[item] != sealed for item, _, sealed in after)  # sealed anew
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == items[0]
    opened = api("agent").post(f"/api/v1/work-items/{items[0]}/document/openings").json()
    page = api("agent").get(
        f"/api/v1/work-items/{items[0]}/document/page", params={"ticket": opened["ticket"]}
    )
    assert page.status_code == 200


def test_the_retention_purge_removes_the_documents_of_items_past_it(
    api: Any, world: World, container: Container, clock: ManualClock
) -> None:
    old = _delivered_with_document(api, world)
    clock.advance(timedelta(days=20))
    recent = _delivered_with_document(api, world)
    security = api("security")
    assert security.put(
        f"/api/v1/clients/{world.client_id}/retention", json={"days": 30}
    ).is_success
    clock.advance(timedelta(days=15))
    with transaction(container.sessions) as session:
        (report,) = retention.purge_due(session, clock.now(), key=container.audit_key, batch=100)
        assert report.counts["documents"] == 1
    assert [item for item, _, _ in _documents(container)] == [recent]
    lease_free = api("client").post(f"/api/v1/work-items/{old}/document/openings")
    assert lease_free.status_code == 404
    assert lease_free.json()["detail"] == f"work item {old} has no document"


def test_at_the_clients_exit_documents_are_handed_back_in_clear_then_deleted(
    api: Any, world: World, container: Container, tmp_path: Path
) -> None:
    item_id = _delivered_with_document(api, world)
    jpeg = samples.image("JPEG")
    other = hand_over(api, world, jpeg).json()["id"]
    with transaction(container.sessions) as session:
        manifest = retention.export_client(session, container.keyring, world.client_id, tmp_path)
    assert manifest["files"]["documents.jsonl"]["rows"] == 2
    rows = {
        row["work_item_id"]: row
        for row in map(json.loads, (tmp_path / "documents.jsonl").read_text().splitlines())
    }
    assert "content" not in rows[item_id] and "sealed_with" not in rows[item_id]
    for item, data, extension in ((item_id, PDF, "pdf"), (other, jpeg, "jpg")):
        file = tmp_path / rows[item]["file"]
        assert file.suffix == f".{extension}"
        assert file.read_bytes() == data
        assert rows[item]["sha256"] == hashlib.sha256(data).hexdigest()
    with transaction(container.sessions) as session:
        report = retention.end_contract(
            session,
            world.client_id,
            manifest,
            actor="user:security",
            now=container.clock.now(),
            key=container.audit_key,
        )
    assert report.counts["documents"] == 2
    assert _documents(container) == []
