"""A file's rows carry the client's own reference and their row number to their items: the
reference found again by the API, the row named in the results file; a reference that cannot
be one is that row's error, naming its column."""

from __future__ import annotations

from typing import Any

from tests.conftest import World


def _upload(api: Any, world: World, body: bytes, **form: str) -> Any:
    return api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={"file": ("claims.csv", body)},
        data={"mode": "accept_valid", **form},
    )


def test_a_rows_reference_and_number_go_with_its_item(api: Any, world: World) -> None:
    body = b"external_ref,document_ref,pages\nAPP-7,scan-7.pdf,2\n,scan-8.pdf,1\n"
    upload = _upload(api, world, body)
    assert upload.status_code == 201, upload.text
    assert upload.json()["rows_accepted"] == 2  # the reference is no input field of the form
    found = api("client").get("/api/v1/work-items", params={"external_ref": "APP-7"}).json()
    assert [(item["source_row"], item["payload"]) for item in found] == [
        (2, {"document_ref": "scan-7.pdf", "pages": 2})
    ]
    rows = api("client").get("/api/v1/work-items", params={"sort": "received"}).json()
    assert [(item["external_ref"], item["source_row"]) for item in rows] == [
        ("APP-7", 2),
        (None, 3),  # a blank reference is none
    ]


def test_the_upload_names_its_own_reference_column(api: Any, world: World) -> None:
    body = b"Claim No,document_ref\n12345,scan-1.pdf\n"
    upload = _upload(api, world, body, reference_column="Claim No")
    assert upload.status_code == 201, upload.text
    [item] = api("client").get("/api/v1/work-items").json()
    assert (item["external_ref"], item["payload"]) == ("12345", {"document_ref": "scan-1.pdf"})


def test_a_reference_too_long_is_its_rows_error_naming_the_column(api: Any, world: World) -> None:
    body = b"external_ref,document_ref\n" + b"x" * 201 + b",scan-1.pdf\nOK-1,scan-2.pdf\n"
    upload = _upload(api, world, body)
    assert upload.status_code == 201, upload.text
    report = upload.json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (1, 1)
    assert report["errors"] == [
        {"row": 2, "field": "external_ref", "message": "at most 200 characters"}
    ]
