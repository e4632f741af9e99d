"""Work arriving from clients: one item at a time (idempotent) or a whole file (streamed)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tandem.catalog.forms import FieldError, Form
from tandem.catalog.models import Process
from tandem.catalog.service import (
    form_of,
    get_process,
    policy_for,
    taking_work,
    visible_process,
)
from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import new_id, new_id_hex, transaction
from tandem.core.errors import Conflict, InvalidInput
from tandem.decisions.deciding import DecidingChunks, decide_arrival
from tandem.decisions.models import Ruleset
from tandem.decisions.rulesets import published
from tandem.delivery import outbox
from tandem.documents import service as documents
from tandem.documents import staging
from tandem.documents.content import DEFAULT_LIMITS, Limits
from tandem.intake.archives import Archive, is_archive
from tandem.intake.readers import FileFormat, ReaderError, detect_format, read_rows
from tandem.intake.staged import StagedReferences
from tandem.privacy.service import storing
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.principal import Principal
from tandem.vault.sealing import Keyring, Storing
from tandem.work import transitions
from tandem.work.chunks import ChunkWriter
from tandem.work.models import Batch, WorkItem, batch_status
from tandem.work.transitions import new_item_row

MAX_REPORTED_ERRORS = 1000
CHUNK_ROWS = 2000
MODES = ("all_or_nothing", "accept_valid")


def request_fingerprint(
    payload: dict[str, Any],
    external_ref: str | None,
    priority: int | None,
    document_sha256: str | None = None,
) -> str:
    said: list[Any] = [payload, external_ref, priority]
    if document_sha256 is not None:  # an item handed over with a document: the same one
        said.append(document_sha256)
    canonical = json.dumps(said, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_item(
    ctx: Context,
    process_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    at_risk_fraction: float,
    external_ref: str | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    document: tuple[bytes, Limits] | None = None,
    due: tuple[datetime, datetime] | None = None,
    staged: uuid.UUID | None = None,
) -> tuple[WorkItem, bool]:
    """Create one work item. Returns (item, created); a retried request with the same
    Idempotency-Key returns the first item and created=False, even when retried concurrently.
    With a `document` (its bytes, and the limits it is checked against by its content), the
    item arrives with it, in the same transaction (tandem.documents). `due`: (due, at risk)
    set by the caller's own service level (a brand's, tandem.servicedesk.levels) instead of
    the process's SLA. `staged`: the id of a document staged ahead for the process
    (tandem.documents.staging), which becomes the item's in the same transaction (a retry
    with the same Idempotency-Key and id replays, though the document is no longer staged)."""
    session, principal, now = ctx.session, ctx.principal, ctx.now
    process = get_process(ctx, process_id)
    taking_work(process)
    attached = None if document is None else documents.checked(*document)
    said = attached.sha256 if attached else f"staged:{staged}" if staged else None
    fingerprint = request_fingerprint(payload, external_ref, priority, said)
    if idempotency_key is not None:
        existing = _by_idempotency_key(session, process.client_id, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    if staged is not None:
        _, wrong = staging.usable(session, process.client_id, process.id, staged, now)
        if wrong is not None:
            raise InvalidInput(wrong, errors=[{"field": "document_id", "message": wrong}])
    errors = form_of(process.input_schema).errors(payload)
    if errors:
        raise InvalidInput(
            "the work item does not match the process input form",
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )
    policy = policy_for(session, process.client_id, process.id, at_risk_fraction)
    row = new_item_row(
        process,
        policy,
        payload,
        now,
        external_ref=external_ref,
        idempotency_key=idempotency_key,
        request_hash=fingerprint if idempotency_key else None,
        due=due,
    )
    if priority is not None:
        row["priority"] = priority
    store = storing(session, ctx.keyring, process.client_id, process.id)
    if store is not None:
        row["payload"], row["sealed"] = store(row["id"], payload)
    ruleset = _ruleset(session, process)
    try:
        with session.begin_nested():
            if ruleset is not None:  # the client's rules decide what they can at once
                decide_arrival(session, ruleset, row, payload, actor=principal.actor, now=now)
            else:
                transitions.arrive(session, [row], actor=principal.actor)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its item.
        if idempotency_key is None:
            raise
        existing = _by_idempotency_key(session, process.client_id, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    if document is not None and attached is not None:
        documents.store(
            session, ctx.keyring, process.client_id, row["id"], document[0], attached, now=now
        )
    if staged is not None and not staging.attach(
        session, process.client_id, staged, row["id"], now
    ):
        message = f"staged document {staged} was taken by another item meanwhile"
        raise InvalidInput(message, errors=[{"field": "document_id", "message": message}])
    metrics.ITEMS_RECEIVED.labels("api").inc()
    item = session.get_one(WorkItem, (process.client_id, row["id"]))
    return item, True


def _by_idempotency_key(
    session: Session, client_id: int, key: str, fingerprint: str
) -> WorkItem | None:
    item = session.scalar(
        select(WorkItem).where(WorkItem.client_id == client_id, WorkItem.idempotency_key == key)
    )
    if item is not None and item.request_hash != fingerprint:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different request",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    return item


# -- bulk files ----------------------------------------------------------------------------


@dataclass
class BatchReport:
    id: uuid.UUID
    process_id: uuid.UUID
    filename: str
    file_format: FileFormat
    mode: str
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # For a decision process with published rules: the rules' outcomes of the stored rows.
    decisions: dict[str, int] = field(default_factory=dict)
    idempotency_key: str | None = None
    file_sha256: str | None = None
    replayed: bool = False  # the answer to an earlier upload of the same file and key

    @property
    def status(self) -> str:
        return batch_status(self.rows_accepted, self.rows_rejected)


class RowDocuments(Protocol):
    """The documents a file's rows name in one column: an archive's (by path,
    tandem.intake.archives) or staged ahead (by id, tandem.intake.staged)."""

    column: str

    def check(self, number: int, payload: dict[str, Any]) -> list[FieldError]: ...

    def kept(self, number: int, item_id: str) -> None: ...

    def store(self, session: Session, keyring: Keyring, client_id: int, now: datetime) -> int: ...


# The column of a file that holds the client's own reference for its row, unless the upload
# names another; at most as long as an item's reference may be.
REFERENCE_COLUMN = "external_ref"
MAX_REFERENCE = 200


def ingest_file(
    sessions: sessionmaker[Session],
    principal: Principal,
    process_id: uuid.UUID,
    stream: BinaryIO,
    *,
    filename: str,
    clock: Clock,
    at_risk_fraction: float,
    keyring: Keyring,
    content_type: str | None = None,
    mode: str = "all_or_nothing",
    on_progress: Callable[[int], None] | None = None,
    idempotency_key: str | None = None,
    document_column: str | None = None,
    document_limits: Limits | None = None,
    reference_column: str = REFERENCE_COLUMN,
) -> BatchReport:
    """Validate and queue every row of a CSV, JSONL or XLSX file, streaming it.

    `all_or_nothing`: one bad row rejects the file and no item is written (the batch is kept,
    with its error report). `accept_valid`: good rows are queued, bad ones reported.
    Every item of the file shares the batch id, the arrival instant and so the due time.
    With an `idempotency_key`, a retry of the same file (same SHA-256, same process) gets
    the earlier batch's report (`replayed`) and queues nothing; another file: 409.
    A ZIP archive holds the items file and the documents its rows name in `document_column`
    (tandem.intake.archives): each row's document is checked as the row is, and stored
    with its item. In a plain file, `document_column` names documents staged ahead, by id
    (tandem.intake.staged): each checked as the row is, and made its item's. A row's
    `reference_column` (if the file has it) is the client's own reference for the item, not
    part of its input; each item keeps its row's number.
    """
    if mode not in MODES:
        raise InvalidInput(
            f"unknown mode {mode!r}",
            errors=[{"field": "mode", "message": f"must be one of {', '.join(MODES)}"}],
        )
    archive = _archive(stream, filename, document_column, document_limits)
    try:
        file_format = detect_format(
            archive.items_name if archive else filename, None if archive else content_type
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "file", "message": str(exc)}]) from None
    now = clock.now()
    report = BatchReport(new_id(), process_id, filename, file_format, mode)
    if idempotency_key is not None:
        report.idempotency_key, report.file_sha256 = idempotency_key, _sha256(stream)
        if (earlier := _earlier(sessions, principal, process_id, idempotency_key)) is not None:
            return _replayed(earlier, report)
    try:
        with transaction(sessions) as session:
            process = visible_process(session, principal, process_id)
            taking_work(process)
            client_id = process.client_id
            session.add(_batch_row(client_id, report, principal, now))
            session.flush()
            store = storing(session, keyring, client_id, process.id)
            named: RowDocuments | None = archive
            if archive is None and document_column:
                named = StagedReferences(session, client_id, process.id, document_column, now)
            _ingest_rows(
                session,
                process,
                archive.items() if archive else stream,
                report,
                now,
                at_risk_fraction,
                store,
                on_progress,
                named,
                reference_column,
            )
            if named is not None and not (report.rows_rejected and mode == "all_or_nothing"):
                named.store(session, keyring, client_id, now)
            if report.rows_rejected and mode == "all_or_nothing":
                raise _Rejected()
            _update_counts(session, process.client_id, report)
    except _Rejected:
        report.rows_accepted = 0
        report.decisions = {}
        with transaction(sessions) as session:
            session.add(_batch_row(client_id, report, principal, now))
    except ReaderError as exc:
        raise InvalidInput(
            f"{filename}: {exc}", errors=[{"field": "file", "message": str(exc)}]
        ) from None
    except IntegrityError:
        # The same key, in an upload that committed first: answer with its batch.
        if idempotency_key is None:
            raise
        earlier = _earlier(sessions, principal, process_id, idempotency_key)
        if earlier is None:
            raise
        return _replayed(earlier, report)
    if report.rows_accepted:
        metrics.ITEMS_RECEIVED.labels("file").inc(report.rows_accepted)
    for outcome, count in report.decisions.items():
        metrics.DECISIONS.labels("rules", outcome).inc(count)
    return report


def _archive(
    stream: BinaryIO, filename: str, column: str | None, limits: Limits | None
) -> Archive | None:
    """The upload as an archive of items and documents, or None if it is a plain file (an
    XLSX workbook is a ZIP too: told apart by its name)."""
    if filename.lower().endswith(".xlsx") or not is_archive(stream):
        return None
    if not column:
        message = "name the column of each row's document (a path in the archive)"
        raise InvalidInput(
            "an archive needs its document column",
            errors=[{"field": "document_column", "message": message}],
        )
    try:
        return Archive(stream, column, limits or DEFAULT_LIMITS)
    except ReaderError as exc:
        raise InvalidInput(
            f"{filename}: {exc}", errors=[{"field": "file", "message": str(exc)}]
        ) from None


def _ruleset(session: Session, process: Process) -> Ruleset | None:
    """The published rules that decide a decision process's items as they arrive."""
    return published(session, process.client_id, process.id) if process.kind == "decision" else None


class _Rejected(Exception):
    """Rolls back an all-or-nothing file that had a bad row."""


def _ingest_rows(
    session: Session,
    process: Process,
    stream: BinaryIO,
    report: BatchReport,
    now: datetime,
    at_risk_fraction: float,
    store: Storing | None,
    on_progress: Callable[[int], None] | None,
    archive: RowDocuments | None = None,
    reference_column: str = REFERENCE_COLUMN,
) -> None:
    form = form_of(process.input_schema)
    policy = policy_for(session, process.client_id, process.id, at_risk_fraction)
    due = policy.start(now)
    # Every item of a file shares all its columns but the id and the payload.
    shared = new_item_row(process, policy, {}, now, due=due, batch_id=report.id)
    keep_writing = True
    chunk: list[list[Any]] = []
    connection = session.connection()
    actor = f"batch:{report.id}"
    ruleset = _ruleset(session, process)
    sink: transitions.Arrivals | DecidingChunks = (
        DecidingChunks(
            connection.dialect.name,
            ruleset,
            shared,
            actor,
            now,
            store,
            outbox.subscribers(connection, process.client_id),
        )
        if ruleset
        else transitions.Arrivals(connection.dialect.name, shared, actor, store)
    )
    with ChunkWriter(connection) as writer:
        zone = _client_zone(session, process)
        rows = _validated(stream, report.file_format, form, zone, reference_column)
        for number, reference, payload, errors in rows:
            # A row with its document (an archive's, or staged): that document checked too.
            row_errors = archive.check(number, payload) if archive and not errors else errors
            report.rows_total += 1
            if row_errors:
                report.rows_rejected += 1
                keep_writing = report.mode == "accept_valid"
                for error in row_errors:
                    if len(report.errors) < MAX_REPORTED_ERRORS:
                        report.errors.append(
                            {"row": number, "field": error.field, "message": error.message}
                        )
                continue
            report.rows_accepted += 1
            if keep_writing:
                item_id = new_id_hex()
                chunk.append([item_id, payload, reference, number])
                if archive is not None:
                    archive.kept(number, item_id)
                if len(chunk) >= CHUNK_ROWS:
                    writer.write(sink.parts(chunk))
                    chunk = []
            if on_progress and report.rows_total % CHUNK_ROWS == 0:
                on_progress(report.rows_total)
        if keep_writing and chunk:
            writer.write(sink.parts(chunk))
        if keep_writing:
            writer.write(sink.finish())
    if isinstance(sink, DecidingChunks):
        report.decisions = dict(sink.outcomes)
    if on_progress:
        on_progress(report.rows_total)


def _client_zone(session: Session, process: Process) -> ZoneInfo:
    """Where the client's spreadsheet times are local to."""
    client = session.get_one(Client, process.client_id)
    return ZoneInfo(client.timezone)


def _validated(
    stream: BinaryIO, file_format: FileFormat, form: Form, zone: ZoneInfo, reference_column: str
) -> Iterator[tuple[int, str | None, dict[str, Any], list[FieldError]]]:
    """Each row's number, the client's reference, its input and its errors."""
    for row in read_rows(stream, file_format):
        if row.problem is not None:
            yield row.number, None, {}, [FieldError("", row.problem, row.number)]
            continue
        if nul := [name for name, value in row.values.items() if "\x00" in str(value)]:
            # No database keeps a NUL character in text: the row is wrong, not the server.
            message = "must not contain NUL (\\u0000) characters"
            yield row.number, None, {}, [FieldError(name, message, row.number) for name in nul]
            continue
        reference, wrong = _reference(row.values.pop(reference_column, None))
        if wrong:
            yield row.number, None, {}, [FieldError(reference_column, wrong, row.number)]
        elif file_format == "jsonl":
            yield row.number, reference, row.values, form.errors(row.values, row.number)
        else:
            yield row.number, reference, *form.validate(row.values, row.number, zone)


def _reference(value: Any) -> tuple[str | None, str | None]:
    """A row's reference as text (a spreadsheet's number as its digits), or what is wrong."""
    if value is None or isinstance(value, bool | dict | list):
        return None, None if value is None else "must be text or a number"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > MAX_REFERENCE:
        return None, f"at most {MAX_REFERENCE} characters"
    return text or None, None


def _sha256(stream: BinaryIO) -> str:
    """The file's SHA-256, read through once; the stream is rewound for intake."""
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _earlier(
    sessions: sessionmaker[Session], principal: Principal, process_id: uuid.UUID, key: str
) -> Batch | None:
    """The batch the caller's client handed over with this key, if any."""
    with transaction(sessions) as session:
        process = visible_process(session, principal, process_id)
        return session.scalar(
            select(Batch).where(Batch.client_id == process.client_id, Batch.idempotency_key == key)
        )


def _replayed(earlier: Batch, report: BatchReport) -> BatchReport:
    """The earlier upload's report, if this is the same file to the same process."""
    if earlier.file_sha256 != report.file_sha256 or earlier.process_id != report.process_id:
        raise Conflict(
            f"the Idempotency-Key {report.idempotency_key!r} was used for another file "
            f"(batch {earlier.id}): use a new key for a new file"
        )
    return BatchReport(
        earlier.id,
        earlier.process_id,
        earlier.filename,
        cast(FileFormat, earlier.file_format),
        earlier.mode,
        rows_total=earlier.rows_total,
        rows_accepted=earlier.rows_accepted,
        rows_rejected=earlier.rows_rejected,
        errors=list(earlier.errors),
        idempotency_key=earlier.idempotency_key,
        file_sha256=earlier.file_sha256,
        replayed=True,
    )


def _batch_row(client_id: int, report: BatchReport, principal: Principal, now: datetime) -> Batch:
    return Batch(
        client_id=client_id,
        id=report.id,
        process_id=report.process_id,
        filename=report.filename[:255],
        file_format=report.file_format,
        mode=report.mode,
        rows_total=report.rows_total,
        rows_accepted=report.rows_accepted,
        rows_rejected=report.rows_rejected,
        errors=report.errors,
        created_by=principal.user_id,
        created_at=now,
        idempotency_key=report.idempotency_key,
        file_sha256=report.file_sha256,
    )


def _update_counts(session: Session, client_id: int, report: BatchReport) -> None:
    session.execute(
        update(Batch)
        .where(Batch.client_id == client_id, Batch.id == report.id)
        .values(
            rows_total=report.rows_total,
            rows_accepted=report.rows_accepted,
            rows_rejected=report.rows_rejected,
            errors=report.errors,
        )
    )
