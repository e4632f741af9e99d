"""Intake over the real HTTP server: idempotency and files with bad rows."""

from __future__ import annotations

import gc
import io
import json
import threading
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.intake.service import ingest_file
from tandem.work.models import Batch, WorkItem, WorkItemEvent
from tests.conftest import FORM_SCHEMA, World


def _count(container: Container, model: Any = WorkItem) -> int:
    with transaction(container.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_single_item_is_created_once_per_idempotency_key(
    api: Any, world: World, container: Container
) -> None:
    url = f"/api/v1/processes/{world.process_id}/work-items"
    body = {"payload": {"document_ref": "scan-1.pdf", "pages": 3}, "external_ref": "APP-1"}
    first = api("client").post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    again = api("client").post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert _count(container) == 1
    changed = api("client").post(
        url, json={**body, "external_ref": "APP-2"}, headers={"Idempotency-Key": "k-1"}
    )
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(container) == 1


def test_concurrent_retries_create_one_item(api: Any, world: World, container: Container) -> None:
    url = f"/api/v1/processes/{world.process_id}/work-items"
    body = {"payload": {"document_ref": "scan-9.pdf"}}
    codes: list[int] = []

    def post() -> None:
        codes.append(
            api("client").post(url, json=body, headers={"Idempotency-Key": "race"}).status_code
        )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 7 + [201]
    assert _count(container) == 1


def test_invalid_payload_names_the_field(api: Any, world: World) -> None:
    response = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"pages": "three"}},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"document_ref", "pages"}


CSV_WITH_BAD_ROWS = (
    "document_ref,pages,received_on\n"
    "scan-1.pdf,2,2026-03-01\n"
    "scan-2.pdf,two,2026-03-01\n"
    "scan-3.pdf,1,2026-02-30\n"
    ",4,2026-03-02\n"
    "scan-5.pdf,5,2026-03-03\n"
)


def _upload(
    api: Any, world: World, content: bytes, name: str, mode: str | None = None, key: str = ""
) -> Any:
    data = {"mode": mode} if mode else {}
    return api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={"file": (name, content)},
        data=data,
        headers={"Idempotency-Key": key} if key else {},
    )


def test_a_file_with_bad_rows_is_rejected_whole_and_names_row_and_field(
    api: Any, world: World, container: Container
) -> None:
    response = _upload(api, world, CSV_WITH_BAD_ROWS.encode(), "apps.csv")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["rows_total"] == 5 and problem["rows_rejected"] == 3
    assert {(e["row"], e["field"]) for e in problem["errors"]} == {
        (3, "pages"),
        (4, "received_on"),
        (5, "document_ref"),
    }
    assert _count(container) == 0 and _count(container, WorkItemEvent) == 0
    # The rejected batch and its report stay, for the client to see.
    batch = api("client").get(f"/api/v1/batches/{problem['batch_id']}").json()
    assert batch["status"] == "rejected" and batch["rows_accepted"] == 0


def test_accept_valid_queues_the_good_rows_under_one_batch(
    api: Any, world: World, container: Container
) -> None:
    response = _upload(api, world, CSV_WITH_BAD_ROWS.encode(), "apps.csv", "accept_valid")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (2, 3)
    assert report["status"] == "partially_accepted"
    items = api("client").get("/api/v1/work-items", params={"batch_id": report["id"]}).json()
    assert sorted(i["payload"]["document_ref"] for i in items) == ["scan-1.pdf", "scan-5.pdf"]
    assert items[0]["payload"]["pages"] in (2, 5)  # typed, not text


def test_jsonl_and_xlsx_files(api: Any, world: World, container: Container) -> None:
    lines = [{"document_ref": f"d{i}", "pages": i + 1} for i in range(3)]
    jsonl = "\n".join(json.dumps(line) for line in lines).encode()
    assert _upload(api, world, jsonl, "items.jsonl").status_code == 201
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["document_ref", "pages"])
    sheet.append(["x1.pdf", 3])
    sheet.append(["x2.pdf", "many"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(api, world, buffer.getvalue(), "items.xlsx")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"row": 3, "field": "pages", "message": response.json()["errors"][0]["message"]}
    ]
    assert _count(container) == 3
    assert _count(container, Batch) == 2


def test_an_unreadable_file_is_refused(api: Any, world: World, container: Container) -> None:
    response = _upload(api, world, b"a,a\n1,2\n", "dup.csv")
    assert response.status_code == 422
    assert "a" in response.json()["detail"]
    assert _upload(api, world, b"hello", "notes.txt").status_code == 422
    assert _count(container) == 0


def test_spreadsheet_date_times_are_the_clients_local_time(
    world: World, container: Container
) -> None:
    """An Excel date-time cell carries no zone: it is read in the client's time zone."""
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="claims-log",
                name="Claims log",
                kind="data_entry",
                input_schema={
                    "type": "object",
                    "required": ["reported_at", "reported_on"],
                    "properties": {
                        "reported_at": {"type": "string", "format": "date-time"},
                        "reported_on": {"type": "string", "format": "date"},
                    },
                },
                form_schema=FORM_SCHEMA,
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["reported_at", "reported_on"])
    sheet.append([datetime(2026, 3, 4, 10, 30), datetime(2026, 3, 4)])  # winter: UTC-5
    sheet.append([datetime(2026, 7, 1, 10, 30), datetime(2026, 7, 1)])  # summer: UTC-4
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    report = ingest_file(
        container.sessions,
        world.client_user,
        process.id,
        buffer,
        filename="log.xlsx",
        clock=container.clock,
        at_risk_fraction=0.75,
        keyring=container.keyring,
    )
    assert report.errors == []
    with transaction(container.sessions) as session:
        payloads = session.scalars(
            select(WorkItem.payload).where(WorkItem.process_id == process.id)
        ).all()
    assert sorted(p["reported_at"] for p in payloads) == [
        "2026-03-04T10:30:00-05:00",
        "2026-07-01T10:30:00-04:00",
    ]
    assert sorted(p["reported_on"] for p in payloads) == ["2026-03-04", "2026-07-01"]


def test_a_nul_character_in_a_cell_is_that_rows_error(container: Container, world: World) -> None:
    """PostgreSQL keeps no NUL in text: the row is refused, naming the field."""
    report = ingest_file(
        container.sessions,
        world.client_user,
        world.process_id,
        io.BytesIO(b"document_ref,pages\nok.pdf,1\nbad\x00.pdf,2\n"),
        filename="nul.csv",
        clock=container.clock,
        at_risk_fraction=0.75,
        keyring=container.keyring,
        mode="accept_valid",
    )
    assert report.rows_accepted == 1
    assert report.errors == [
        {"row": 3, "field": "document_ref", "message": "must not contain NUL (\\u0000) characters"}
    ]


def test_the_cycle_collector_pauses_while_a_file_streams_and_resumes_after_a_failure(
    container: Container, world: World
) -> None:
    """tandem.core.runtime.paused_cycle_collection: off for the rows, back on whatever happens."""
    seen: list[bool] = []

    def progress(rows: int) -> None:
        seen.append(gc.isenabled())
        raise RuntimeError("the upload was cut off")

    with pytest.raises(RuntimeError, match="cut off"):
        ingest_file(
            container.sessions,
            world.client_user,
            world.process_id,
            io.BytesIO(b"document_ref,pages\n" + b"a.pdf,1\n" * 2000),
            filename="many.csv",
            clock=container.clock,
            at_risk_fraction=0.75,
            keyring=container.keyring,
            on_progress=progress,
        )
    assert seen == [False]
    assert gc.isenabled()
    assert _count(container) == 0


GOOD_FILE = b"document_ref,pages\nscan-1.pdf,2\nscan-2.pdf,1\n"


def test_a_retried_file_is_queued_once_per_idempotency_key(
    api: Any, world: World, container: Container
) -> None:
    """A client that retries after a lost answer gets the first batch back (200, replayed),
    and nothing is queued twice; another file under the same key is refused (409)."""
    first = _upload(api, world, GOOD_FILE, "b.csv", key="file-1")
    assert first.status_code == 201, first.text
    again = _upload(api, world, GOOD_FILE, "b.csv", key="file-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["rows_accepted"] == 2
    assert (_count(container), _count(container, Batch)) == (2, 1)
    other = _upload(api, world, GOOD_FILE + b"scan-3.pdf,4\n", "b.csv", key="file-1")
    assert other.status_code == 409 and "another file" in other.json()["detail"]
    assert (_count(container), _count(container, Batch)) == (2, 1)
    assert _upload(api, world, GOOD_FILE, "b.csv", key="file-2").status_code == 201
    assert _count(container) == 4  # a new key is a new hand-over
    theirs = api("other_client").post(
        f"/api/v1/processes/{world.other_process_id}/batches",
        files={"file": ("b.csv", GOOD_FILE)},
        headers={"Idempotency-Key": "file-1"},
    )
    assert theirs.status_code == 201  # keys are the client's own


def test_concurrent_uploads_of_one_file_queue_it_once(
    api: Any, world: World, container: Container
) -> None:
    codes: list[int] = []

    def upload() -> None:
        codes.append(_upload(api, world, GOOD_FILE, "b.csv", key="double-click").status_code)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 200, 200, 201]
    assert (_count(container), _count(container, Batch)) == (2, 1)
