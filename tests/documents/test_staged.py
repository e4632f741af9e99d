"""Documents staged ahead of their items ("by reference"): handed over one at a time, checked
and sealed as any document, then named by id in a file's document column or in one item,
which takes it in its intake's transaction, once. Bad references are row errors with nothing
written; unused ones are purged by the worker; custody re-seals, hands back and erases them."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody import keys, retention
from tandem.custody.models import PurgeReport
from tandem.documents.models import Document
from tandem.tenancy.principal import SYSTEM
from tandem.worker import run_once
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, World
from tests.documents import samples

PDF = samples.pdf(3)
PNG = samples.image("PNG")
JPEG = samples.image("JPEG")


def stage(
    api: Any,
    world: World,
    data: bytes,
    *,
    who: str = "client",
    raw: bool = False,
    process: Any = None,
) -> httpx.Response:
    """Stage a document: as a form's `document` field, or (raw) as the body itself."""
    url = f"/api/v1/processes/{process or world.process_id}/documents"
    if raw:
        response: httpx.Response = api(who).post(
            url, content=data, headers={"Content-Type": "application/octet-stream"}
        )
    else:
        response = api(who).post(url, files={"document": ("scan.pdf", data, "application/pdf")})
    return response


def staged_id(api: Any, world: World, data: bytes = PDF, **kwargs: Any) -> str:
    response = stage(api, world, data, **kwargs)
    assert response.status_code == 201, response.text
    found: str = response.json()["id"]
    return found


def upload(api: Any, world: World, rows: list[str], **form: str) -> httpx.Response:
    """A CSV of items whose document_ref column names staged documents."""
    csv = ("document_ref,pages\n" + "".join(f"{ref},1\n" for ref in rows)).encode()
    response: httpx.Response = api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={"file": ("items.csv", csv, "text/csv")},
        data={"document_column": "document_ref", **form},
    )
    return response


def rows(container: Container) -> dict[str, tuple[str | None, str | None]]:
    """Each document's id -> (its item, its staged expiry), as the database holds them."""
    with container.engine.connect() as connection:
        found = connection.execute(
            text("SELECT id, work_item_id, staged_until FROM documents")
        ).all()
    return {
        str(uuid.UUID(str(r[0]))): (
            None if r[1] is None else str(uuid.UUID(str(r[1]))),
            None if r[2] is None else str(r[2]),
        )
        for r in found
    }


def items(container: Container) -> int:
    with transaction(container.sessions) as session:
        return int(session.scalar(text("SELECT count(*) FROM work_items")) or 0)


def test_staged_documents_become_the_items_of_a_file_and_the_lease_holder_opens_them(
    api: Any, world: World, container: Container
) -> None:
    now = container.clock.now()
    first = stage(api, world, PDF)  # a form's field
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["process_id"] == str(world.process_id)
    assert (body["media_type"], body["pages"], body["size"]) == ("application/pdf", 3, len(PDF))
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["expires_at"].startswith((now + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"))
    png = stage(api, world, PNG, raw=True)  # the body itself: told by its content
    jpeg = stage(api, world, JPEG, raw=True)
    assert (png.json()["media_type"], jpeg.json()["media_type"]) == ("image/png", "image/jpeg")
    ids = [first.json()["id"], png.json()["id"], jpeg.json()["id"]]
    assert all(rows(container)[i] == (None, rows(container)[i][1]) for i in ids)  # no item yet

    response = upload(api, world, ids)
    assert response.status_code == 201, response.text
    assert (response.json()["rows_accepted"], response.json()["rows_rejected"]) == (3, 0)
    with transaction(container.sessions) as session:
        taken = session.execute(
            text(
                "SELECT d.id, w.payload, d.staged_for, d.staged_until FROM documents d "
                "JOIN work_items w ON w.client_id = d.client_id AND w.id = d.work_item_id"
            )
        ).all()
    assert len(taken) == 3
    for document_id, payload, staged_for, staged_until in taken:
        payload = json.loads(payload) if isinstance(payload, str) else payload
        assert payload["document_ref"] == str(uuid.UUID(str(document_id)))  # its own row's
        assert (staged_for, staged_until) == (None, None)

    agent = api("agent")
    lease = agent.post("/api/v1/dispatch/claim").json()
    opened = agent.post(f"/api/v1/work-items/{lease['item_id']}/document/openings")
    assert opened.status_code == 201, opened.text
    assert opened.json()["document_id"] in ids
    page = agent.get(
        f"/api/v1/work-items/{lease['item_id']}/document/page",
        params={"ticket": opened.json()["ticket"]},
    )
    assert page.status_code == 200
    assert page.headers["content-type"] == "image/webp"
    # Another agent, not holding the lease, finds nothing.
    assert (
        api("other_client")
        .post(f"/api/v1/work-items/{lease['item_id']}/document/openings")
        .status_code
        == 404
    )


def test_bad_references_are_row_errors_naming_the_column_and_nothing_is_written(
    api: Any, world: World, container: Container, clock: ManualClock
) -> None:
    expired = staged_id(api, world)
    clock.advance(timedelta(hours=25))
    good = staged_id(api, world, PNG)
    used = staged_id(api, world, JPEG)
    item = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": "by-api"}, "document_id": used},
    )
    assert item.status_code == 201, item.text
    theirs = staged_id(api, world, who="other_client", process=world.other_process_id)
    with transaction(container.sessions) as session:
        elsewhere = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="claims",
                name="Claims",
                kind="data_entry",
                input_schema=INPUT_SCHEMA,
                form_schema=FORM_SCHEMA,
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        ).id
    other_process = staged_id(api, world, process=elsewhere)
    missing = str(uuid.uuid4())
    before = rows(container)
    refs = [good, expired, used, theirs, missing, "not-an-id", good, other_process]
    refused = upload(api, world, refs)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["rows_total"], problem["rows_rejected"]) == (8, 7)
    errors = {e["row"]: e["message"] for e in problem["errors"]}
    assert {e["field"] for e in problem["errors"]} == {"document_ref"}
    assert set(errors) == {3, 4, 5, 6, 7, 8, 9}  # row 2 (the header is row 1) is fine
    assert errors[3].startswith(f"staged document {expired} expired at ")
    assert errors[4] == f"staged document {used} is already an item's: each is used once"
    # Another client's reads exactly as one that exists nowhere.
    assert errors[5] == f"no staged document {theirs}"
    assert errors[6] == f"no staged document {missing}"
    assert errors[7] == "'not-an-id' is not the id of a staged document"
    assert errors[8] == f"staged document {good} is named by row 2 too: each is used once"
    assert errors[9] == f"staged document {other_process} was staged for another process"
    assert items(container) == 1  # the API's item only
    assert rows(container) == before  # every staged document as it was

    # Accepting the valid rows: the good one is taken, the others are reported.
    accepted = upload(api, world, [good, used, missing], mode="accept_valid")
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["rows_accepted"], accepted.json()["rows_rejected"]) == (1, 2)
    assert rows(container)[good][0] is not None and rows(container)[good][1] is None
    assert items(container) == 2
    again = upload(api, world, [good])
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"].startswith(f"staged document {good} is already")


def test_one_item_takes_a_staged_document_once(
    api: Any, world: World, container: Container
) -> None:
    document_id = staged_id(api, world)
    url = f"/api/v1/processes/{world.process_id}/work-items"
    body = {"payload": {"document_ref": "APP-7"}, "document_id": document_id}
    created = api("client").post(url, json=body, headers={"Idempotency-Key": "app-7"})
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    again = api("client").post(url, json=body, headers={"Idempotency-Key": "app-7"})
    assert (again.status_code, again.json()["id"]) == (200, item_id)  # a retry replays
    assert rows(container)[document_id][0] == item_id
    opened = api("client").post(f"/api/v1/work-items/{item_id}/document/openings")
    assert opened.status_code == 201 and opened.json()["document_id"] == document_id
    reused = api("client").post(url, json={**body, "payload": {"document_ref": "APP-8"}})
    assert reused.status_code == 422
    assert reused.json()["errors"] == [
        {
            "field": "document_id",
            "message": f"staged document {document_id} is already an item's: each is used once",
        }
    ]
    theirs = staged_id(api, world, who="other_client", process=world.other_process_id)
    missing = str(uuid.uuid4())
    answers = [
        api("client").post(url, json={**body, "document_id": ref}).json()
        for ref in (theirs, missing)
    ]
    assert [a["detail"] for a in answers] == [
        f"no staged document {theirs}",
        f"no staged document {missing}",
    ]
    assert items(container) == 1


def test_staging_checks_the_document_the_caller_and_the_bytes_kept_at_once(
    api: Any, world: World, container: Container
) -> None:
    for data, says in (
        (b"MZ" + b"\x00" * 300, "not a PDF, TIFF, JPEG or PNG"),
        (PDF[:-300], "truncated"),
        (samples.png_bomb(), "too many pixels"),
        (b"", "empty"),
    ):
        refused = stage(api, world, data, raw=True)
        assert refused.status_code == 422, refused.text
        assert says in refused.json()["detail"]
        assert refused.json()["errors"][0]["field"] == "document"
    container.settings.document_max_bytes = 10_000
    too_big = stage(api, world, PDF)
    assert too_big.status_code == 422
    assert "larger than the 10,000 bytes" in too_big.json()["detail"]
    container.settings.document_max_bytes = 20 * 1024 * 1024
    # Staff may not stage a client's documents; another client finds no process.
    assert stage(api, world, PDF, who="agent").status_code == 403
    assert stage(api, world, PDF, who="other_client").status_code == 404
    assert rows(container) == {}
    # The cap: two of these fit, a third does not, until one is used.
    container.settings.staged_documents_max_bytes = 2 * len(PDF) + 100
    first, _ = staged_id(api, world), staged_id(api, world)
    over = stage(api, world, PDF)
    assert over.status_code == 422
    assert "staged_documents_max_bytes" in over.json()["detail"]
    assert over.json()["limit"] == 2 * len(PDF) + 100
    assert upload(api, world, [first]).status_code == 201
    assert stage(api, world, PDF).status_code == 201


def test_unused_staged_documents_are_purged_by_the_worker_pass(
    api: Any, world: World, container: Container, clock: ManualClock
) -> None:
    unused = staged_id(api, world)
    used = staged_id(api, world, PNG)
    assert upload(api, world, [used]).status_code == 201
    clock.advance(timedelta(hours=23))
    with httpx.Client() as http:
        assert run_once(container, http)["purged"] == 0  # not yet expired
        clock.advance(timedelta(hours=2))
        assert run_once(container, http)["purged"] == 1
    assert list(rows(container)) == [used]
    with transaction(container.sessions) as session:
        (report,) = session.scalars(select(PurgeReport)).all()
        assert (report.client_id, report.reason, report.counts) == (
            world.client_id,
            "expired",
            {"staged_documents": 1},
        )
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "personal_data.purge")
        ).one()
        assert (audit.actor, audit.data["staged_documents"]) == ("system:retention", 1)
    gone = upload(api, world, [unused])
    assert gone.json()["errors"][0]["message"] == f"no staged document {unused}"


def test_custody_re_seals_hands_back_and_erases_staged_documents(
    api: Any, world: World, container: Container, tmp_path: Path
) -> None:
    document_id = staged_id(api, world, JPEG)
    with container.context(SYSTEM) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
    for _ in range(4):
        with transaction(container.sessions) as session:
            keys.advance(session, container.keyring, container.clock.now(), key=container.audit_key)
    with transaction(container.sessions) as session:
        document = session.get_one(Document, (world.client_id, uuid.UUID(document_id)))
        assert document.sealed_with == rotation.target  # re-sealed while staged
    with transaction(container.sessions) as session:
        manifest = retention.export_client(session, container.keyring, world.client_id, tmp_path)
    (row,) = map(json.loads, (tmp_path / "documents.jsonl").read_text().splitlines())
    assert (row["id"], row["work_item_id"]) == (document_id, None)
    assert row["staged_for"] == str(world.process_id) and row["staged_until"]
    assert (tmp_path / row["file"]).read_bytes() == JPEG  # in clear
    assert manifest["contents"][row["file"]]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    # Still usable after the rotation: taken by an item, its pages drawn.
    item = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": "after-rotation"}, "document_id": document_id},
    )
    assert item.status_code == 201, item.text
    other = staged_id(api, world)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    opened = api("agent").post(f"/api/v1/work-items/{lease['item_id']}/document/openings").json()
    page = api("agent").get(
        f"/api/v1/work-items/{lease['item_id']}/document/page", params={"ticket": opened["ticket"]}
    )
    assert page.status_code == 200
    with transaction(container.sessions) as session:
        manifest = retention.export_client(session, container.keyring, world.client_id, tmp_path)
        report = retention.end_contract(
            session,
            world.client_id,
            manifest,
            actor="user:security",
            now=container.clock.now(),
            key=container.audit_key,
        )
    assert report.counts["documents"] == 2  # the item's and the one still staged
    assert other not in rows(container) and rows(container) == {}


@pytest.mark.postgres_only
def test_row_level_security_hides_another_clients_staged_documents(
    api: Any, world: World, container: Container
) -> None:
    staged_id(api, world)
    staged_id(api, world, who="other_client", process=world.other_process_id)
    with container.engine.connect() as conn, conn.begin():
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        assert set(
            conn.scalars(text("SELECT client_id FROM documents WHERE work_item_id IS NULL"))
        ) == {world.client_id}


def test_two_files_naming_one_staged_document_at_once_give_it_to_one_item(
    api: Any, world: World, container: Container
) -> None:
    document_id = staged_id(api, world)
    answers: list[httpx.Response] = []

    def send(ref: str) -> None:
        answers.append(upload(api, world, [staged_id(api, world, PNG), ref]))

    threads = [threading.Thread(target=send, args=(document_id,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 422):
        (error,) = refused.json()["errors"]
        assert (error["row"], error["field"]) == (3, "document_ref")
        assert str(document_id) in error["message"]
    assert items(container) == 2  # the winner's two rows, nothing of the others
    assert rows(container)[document_id][0] is not None
