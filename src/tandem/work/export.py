"""Results of a batch as CSV, JSONL or XLSX, streamed from the database in pages."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core.cells import neutral, text_cells
from tandem.core.errors import NotFound
from tandem.tenancy.context import Context
from tandem.vault.sealing import Keyring, clear_result
from tandem.work.models import Batch, WorkItem

ExportFormat = Literal["csv", "jsonl", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BASE_COLUMNS = ("work_item_id", "external_ref", "state", "received_at", "delivered_at", "breached")
PAGE = 1000


@dataclass(frozen=True)
class BatchExport:
    """What a batch's results file is drawn from: whose batch, and the result form's fields
    (the file's columns)."""

    client_id: int
    batch_id: uuid.UUID
    fields: list[str]


def batch_export(ctx: Context, batch_id: uuid.UUID) -> BatchExport:
    """The export of a batch of the caller's client (provider staff: any); NotFound
    otherwise. The file itself is streamed later (`export_rows`), in a session of its own."""
    row = ctx.session.execute(
        select(Batch.client_id, Process.form_schema)
        .join(Process, (Process.client_id == Batch.client_id) & (Process.id == Batch.process_id))
        .where(Batch.id == batch_id, ctx.principal.client_condition(Batch.client_id))
    ).one_or_none()
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    return BatchExport(row.client_id, batch_id, list(row.form_schema.get("properties", {})))


def _items(session: Session, client_id: int, batch_id: Any) -> Iterator[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.client_id == client_id, WorkItem.batch_id == batch_id)
        .order_by(WorkItem.received_at, WorkItem.id)
        .execution_options(yield_per=PAGE)
    )
    yield from session.scalars(query)


def _record(item: WorkItem) -> dict[str, Any]:
    return {
        "work_item_id": str(item.id),
        "external_ref": item.external_ref,
        "state": item.state,
        "received_at": item.received_at.isoformat(),
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
        "breached": item.breached,
    }


def _flat(item: WorkItem, result: dict[str, Any], fields: Sequence[str]) -> list[Any]:
    """A row of the CSV or XLSX file, its text never a formula (tandem.core.cells)."""
    values: list[Any] = list(_record(item).values())
    for name in fields:
        value = result.get(name)
        values.append(json.dumps(value) if isinstance(value, dict | list) else value)
    return [neutral(value) for value in values]


def export_rows(
    session: Session,
    keyring: Keyring,
    client_id: int,
    batch_id: Any,
    fields: Sequence[str],
    fmt: ExportFormat,
) -> Iterator[bytes]:
    """Chunks of the file; result fields become columns (CSV, XLSX) or a `result` object,
    personal ones in clear: the file is the client's."""
    if fmt == "jsonl":
        for item in _items(session, client_id, batch_id):
            record = {**_record(item), "result": clear_result(keyring, item)}
            yield (json.dumps(record) + "\n").encode()
        return
    header = [*BASE_COLUMNS, *fields]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([neutral(name) for name in header])
        for count, item in enumerate(_items(session, client_id, batch_id), 1):
            writer.writerow(_flat(item, clear_result(keyring, item) or {}, fields))
            if count % PAGE == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
        return
    # XLSX is a zip: write it (write-only mode keeps memory flat) to a temp file, then stream.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("results")
    sheet.append(text_cells(sheet, [neutral(name) for name in header]))
    for item in _items(session, client_id, batch_id):
        sheet.append(text_cells(sheet, _flat(item, clear_result(keyring, item) or {}, fields)))
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk
