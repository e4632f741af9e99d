"""A file of items with their documents as one ZIP archive: each row's document is checked
with the row (a missing or bad one is that row's error, naming the column), and stored sealed
with its item; nothing of a refused file stays."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from sqlalchemy import text

from tandem.container import Container
from tandem.core.db import transaction
from tests.conftest import World
from tests.documents import samples


def _archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


ITEMS = (
    b"document_ref,pages\n"
    b"scans/0001.pdf,3\n"  # row 2: good
    b"scans/0002.png,1\n"  # row 3: good (a PNG)
    b"scans/0003.pdf,2\n"  # row 4: not in the archive
    b"scans/0004.pdf,1\n"  # row 5: truncated
    b"scans/0005.pdf,0\n"  # row 6: a bad value (pages below 1), its document not looked at
)
FILES = {
    "batch/items.csv": ITEMS,
    "scans/0001.pdf": samples.pdf(3),
    "scans/0002.png": samples.image("PNG"),
    "scans/0004.pdf": samples.pdf(1)[:-300],
    "scans/0005.pdf": samples.pdf(1),
}


def _upload(api: Any, world: World, data: bytes, **form: str) -> Any:
    return api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={"file": ("applications.zip", data, "application/zip")},
        data=form,
    )


def _stored(container: Container) -> list[tuple[str, str, int]]:
    with transaction(container.sessions) as session:
        rows = session.execute(
            text(
                "SELECT w.payload, d.media_type, d.pages FROM documents d JOIN work_items w "
                "ON w.client_id = d.client_id AND w.id = d.work_item_id"
            )
        ).all()
    return sorted(
        (
            (json.loads(p) if isinstance(p, str) else p)["document_ref"],
            media_type,
            pages,
        )
        for p, media_type, pages in rows
    )


def test_each_rows_document_comes_with_it_and_bad_ones_are_row_errors(
    api: Any, world: World, container: Container
) -> None:
    response = _upload(
        api, world, _archive(FILES), mode="accept_valid", document_column="document_ref"
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows_total"], report["rows_accepted"], report["rows_rejected"]) == (5, 2, 3)
    errors = {(e["row"], e["field"]): e["message"] for e in report["errors"]}
    assert errors[(4, "document_ref")] == "no document 'scans/0003.pdf' in the archive"
    assert "scans/0004.pdf: the PDF is truncated" in errors[(5, "document_ref")]
    assert (6, "pages") in errors and (6, "document_ref") not in errors
    assert _stored(container) == [
        ("scans/0001.pdf", "application/pdf", 3),
        ("scans/0002.png", "image/png", 1),
    ]
    agent = api("agent")
    lease = agent.post("/api/v1/dispatch/claim").json()
    opened = agent.post(f"/api/v1/work-items/{lease['item_id']}/document/openings")
    assert opened.status_code == 201
    page = agent.get(
        f"/api/v1/work-items/{lease['item_id']}/document/page",
        params={"ticket": opened.json()["ticket"]},
    )
    assert page.status_code == 200


def test_an_archive_with_a_bad_document_is_refused_whole_and_nothing_stays(
    api: Any, world: World, container: Container
) -> None:
    refused = _upload(api, world, _archive(FILES), document_column="document_ref")
    assert refused.status_code == 422
    assert refused.json()["rows_rejected"] == 3
    with transaction(container.sessions) as session:
        assert session.scalar(text("SELECT count(*) FROM work_items")) == 0
        assert session.scalar(text("SELECT count(*) FROM documents")) == 0


def test_an_archive_needs_its_document_column_and_one_items_file(api: Any, world: World) -> None:
    no_column = _upload(api, world, _archive(FILES))
    assert no_column.status_code == 422
    assert no_column.json()["errors"][0]["field"] == "document_column"
    two = _upload(
        api,
        world,
        _archive({**FILES, "more.csv": ITEMS}),
        document_column="document_ref",
    )
    assert two.status_code == 422
    assert "several items files" in two.json()["detail"]
    none = _upload(api, world, _archive({"a.pdf": samples.pdf(1)}), document_column="x")
    assert none.status_code == 422
    assert "no items file" in none.json()["detail"]
    broken = _upload(api, world, b"PK\x03\x04" + b"\x00" * 100, document_column="x")
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "file"
