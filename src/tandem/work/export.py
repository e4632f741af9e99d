"""Results of a batch as CSV, JSONL or XLSX, streamed from the database in pages, in a file
the client can match to its own rows: its reference, any input columns it chooses beside the
result, and in Excel, times, dates, numbers and yes/no typed as such."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core.cells import neutral, text_cells
from tandem.core.errors import InvalidInput, NotFound
from tandem.tenancy.context import Context
from tandem.vault.sealing import Keyring, clear_payload, clear_result
from tandem.work.models import Batch, WorkItem

ExportFormat = Literal["csv", "jsonl", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BASE_COLUMNS = (
    "source_row",
    "external_ref",
    "work_item_id",
    "state",
    "received_at",
    "delivered_at",
    "breached",
)
INPUT_PREFIX = "input."  # the columns of the file's own rows chosen beside the result
PAGE = 1000
MAX_INPUT_COLUMNS = 100


@dataclass(frozen=True)
class BatchExport:
    """What a batch's results file is drawn from: whose batch, the uploaded file's name, the
    input columns chosen, and the result form's fields with the values Excel should type as
    dates (their `format`)."""

    client_id: int
    batch_id: uuid.UUID
    filename: str
    inputs: list[str]
    fields: list[str]
    formats: dict[str, str]

    def content_disposition(self, fmt: ExportFormat) -> str:
        """The file's Content-Disposition: named after the file the client uploaded
        (`claims.csv` -> `claims-results.xlsx`), with an ASCII fallback (RFC 6266)."""
        stem = PurePosixPath(self.filename.replace("\\", "/")).stem or f"batch-{self.batch_id}"
        name = f"{stem}-results.{fmt}"
        fallback = "".join(
            c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
        )
        return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def batch_export(ctx: Context, batch_id: uuid.UUID, inputs: Sequence[str] = ()) -> BatchExport:
    """The export of a batch of the caller's client (provider staff: any); NotFound
    otherwise, and InvalidInput naming any chosen input column the process's input form does
    not have. The file itself is streamed later (`export_rows`), in a session of its own."""
    row = ctx.session.execute(
        select(Batch.client_id, Batch.filename, Process.input_schema, Process.form_schema)
        .join(Process, (Process.client_id == Batch.client_id) & (Process.id == Batch.process_id))
        .where(Batch.id == batch_id, ctx.principal.client_condition(Batch.client_id))
    ).one_or_none()
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    known = row.input_schema.get("properties", {})
    chosen = list(dict.fromkeys(inputs))
    if unknown := [name for name in chosen if name not in known]:
        raise InvalidInput(
            "the export names input columns the process's input form does not have",
            errors=[
                {
                    "field": "columns",
                    "message": f"unknown: {', '.join(unknown)}; the form has "
                    f"{', '.join(known) or 'none'}",
                }
            ],
        )
    if len(chosen) > MAX_INPUT_COLUMNS:
        raise InvalidInput(
            "too many input columns",
            errors=[{"field": "columns", "message": f"at most {MAX_INPUT_COLUMNS}"}],
        )
    properties = row.form_schema.get("properties", {})
    formats = {
        name: prop["format"]
        for name, prop in properties.items()
        if isinstance(prop, dict) and prop.get("format") in ("date", "date-time")
    }
    return BatchExport(row.client_id, batch_id, row.filename, chosen, list(properties), formats)


def _items(session: Session, client_id: int, batch_id: Any) -> Iterator[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.client_id == client_id, WorkItem.batch_id == batch_id)
        .order_by(WorkItem.source_row, WorkItem.id)  # the file's order
        .execution_options(yield_per=PAGE)
    )
    yield from session.scalars(query)


def _record(item: WorkItem) -> dict[str, Any]:
    return {
        "source_row": item.source_row,
        "external_ref": item.external_ref,
        "work_item_id": str(item.id),
        "state": item.state,
        "received_at": item.received_at.isoformat(),
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
        "breached": item.breached,
    }


def _inputs(keyring: Keyring, item: WorkItem, export: BatchExport) -> dict[str, Any]:
    if not export.inputs:
        return {}
    payload = clear_payload(keyring, item)
    return {name: payload.get(name) for name in export.inputs}


def _cells(keyring: Keyring, item: WorkItem, export: BatchExport, typed: bool) -> list[Any]:
    """A row of the CSV or XLSX file, its text never a formula (tandem.core.cells). Typed
    (XLSX): times as the spreadsheet's date-times (UTC, which it cannot name), and the
    result's date fields as dates."""
    result = clear_result(keyring, item) or {}
    inputs = _inputs(keyring, item, export)
    values: list[Any] = list(_record(item).values())
    if typed:
        values[4] = _naive_utc(item.received_at)
        values[5] = _naive_utc(item.delivered_at)
    for name in export.inputs:
        values.append(_flat(inputs.get(name)))
    for name in export.fields:
        value = result.get(name)
        fmt = export.formats.get(name) if typed else None
        values.append(_dated(value, fmt) if fmt else _flat(value))
    return [neutral(value) for value in values]


def _flat(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment is not None else None


def _dated(value: Any, fmt: str) -> Any:
    """A result's date or date-time text as a spreadsheet date; anything else as it is."""
    if not isinstance(value, str):
        return _flat(value)
    try:
        if fmt == "date":
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return _naive_utc(moment) if moment.tzinfo is not None else moment


def export_rows(
    session: Session, keyring: Keyring, export: BatchExport, fmt: ExportFormat
) -> Iterator[bytes]:
    """Chunks of the file; result fields become columns (CSV, XLSX) or a `result` object,
    chosen input columns `input.<name>` columns (or an `input` object), personal ones in
    clear: the file is the client's."""
    items = _items(session, export.client_id, export.batch_id)
    if fmt == "jsonl":
        for item in items:
            record = {**_record(item), "result": clear_result(keyring, item)}
            if export.inputs:
                record["input"] = _inputs(keyring, item, export)
            yield (json.dumps(record) + "\n").encode()
        return
    header = [*BASE_COLUMNS, *(INPUT_PREFIX + name for name in export.inputs), *export.fields]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([neutral(name) for name in header])
        for count, item in enumerate(items, 1):
            writer.writerow(_cells(keyring, item, export, typed=False))
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
    for item in items:
        sheet.append(text_cells(sheet, _cells(keyring, item, export, typed=True)))
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk
