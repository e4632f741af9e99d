"""Retention and exit: personal data is kept no longer than the client's retention period,
and when the contract ends the client gets everything it owns back and Tandem keeps none of it.

`purge_due` (run by the worker) anonymizes items done (delivered or cancelled) longer ago than
the period: their personal input and result fields become null, their sealed values go, and so
do the copies of their results (first keyings, webhook bodies sent) and their documents. What
is left (states, times, SLA, quality scores) still counts in reports. It purges the service
desk's conversations finished (solved or closed, nothing since) longer ago the same way
(tandem.servicedesk.custody says what finished means and what goes): sealed subjects, texts
and survey comments, attachments, and the names and identities of customers with nothing
unfinished; masked texts stay. `purge_staged` (run by the worker with it) deletes the
documents staged ahead of their items that no item took in time (tandem.documents.staging),
whatever the client's period: one report per client that had any. `export_client` writes
every row the client owns as JSON Lines (sealed values opened; a document's or an
attachment's bytes in a file of their own) with a manifest of counts and SHA-256 digests (of
the tables' files and of the content files); `end_contract` then deletes them. Each purge
writes a purge report and an audit record; the audit trail itself stays, as the evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.core.db import Base
from tandem.core.errors import Conflict, NotFound
from tandem.custody.models import PurgeReport
from tandem.delivery.models import WebhookDelivery
from tandem.documents import service as documents
from tandem.documents import staging
from tandem.documents.content import EXTENSIONS
from tandem.quality.models import Keying
from tandem.servicedesk import custody as desk
from tandem.servicedesk.customers import CUSTOMER, IDENTITY
from tandem.servicedesk.inbound import MESSAGE
from tandem.servicedesk.surveys import SURVEY
from tandem.tenancy.context import Context
from tandem.tenancy.models import ApiToken, Client, ConsoleSession, User
from tandem.vault.masking import personal_fields
from tandem.vault.sealing import ANSWER, RESULT, Keyring, opened
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem

DONE = (State.DELIVERED.value, State.CANCELLED.value)
# Kept at the end of a contract: the evidence of what was done and that it was purged.
EVIDENCE = ("audit_records", "audit_chains", "purge_reports")


def set_retention(ctx: Context, client_id: int, days: int | None) -> Client:
    """Keep the client's personal data `days` after an item is done (None: kept); audited."""
    client = ctx.session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    before, client.retention_days = client.retention_days, days
    audit.record_in(
        ctx,
        client_id=client_id,
        action="retention.set",
        subject=f"client:{client_id}",
        data={"days": days, "before": before},
    )
    return client


def purge_reports(ctx: Context, limit: int = 1000) -> list[PurgeReport]:
    """What purges removed, of the caller's client (provider staff: every client), latest
    first."""
    return list(
        ctx.session.scalars(
            select(PurgeReport)
            .where(ctx.principal.client_condition(PurgeReport.client_id))
            .order_by(PurgeReport.at.desc())
            .limit(limit)
        )
    )


# What a purge report counts of the items (`anonymize`) and of the service desk's
# conversations (tandem.servicedesk.custody.purge): every kind, zero when none.
ITEM_KINDS = ("work_items", "documents", "keyings", "webhook_deliveries")
CONVERSATION_KINDS = ("conversations", "messages", "attachments", "survey_comments", "customers")


def purge_due(session: Session, now: datetime, *, key: bytes, batch: int) -> list[PurgeReport]:
    """Anonymize up to `batch` items and `batch` conversations per client that are past its
    retention period; one purge report (and audit record) per client that had any."""
    reports = []
    clients = session.execute(
        select(Client.id, Client.retention_days).where(
            Client.retention_days.is_not(None), Client.ended_at.is_(None)
        )
    ).all()
    for client_id, days in clients:
        cutoff = now - timedelta(days=days or 0)  # never None: selected so
        due = session.execute(
            select(WorkItem.id, WorkItem.process_id)
            .where(
                WorkItem.client_id == client_id,
                WorkItem.state.in_(DONE),
                WorkItem.updated_at < cutoff,
                WorkItem.purged_at.is_(None),
            )
            .limit(batch)
        ).all()
        conversations = desk.due_ids(session, client_id, cutoff, batch)
        if due or conversations:
            counts = dict.fromkeys(ITEM_KINDS, 0)
            if due:
                counts.update(anonymize(session, client_id, due, now))
            counts.update(desk.purge(session, client_id, conversations, cutoff))
            reports.append(_report(session, client_id, "retention", cutoff, counts, now, key))
    return reports


def purge_staged(session: Session, now: datetime, *, key: bytes, batch: int) -> list[PurgeReport]:
    """Delete up to `batch` per client of the documents staged ahead that no item took before
    they expired; one purge report (and audit record) per client that had any."""
    reports = []
    for client_id in session.scalars(select(Client.id).where(Client.ended_at.is_(None))):
        removed = staging.remove_expired(session, client_id, now, batch)
        if removed:
            counts = {STAGED: removed}
            reports.append(_report(session, client_id, "expired", now, counts, now, key))
    return reports


# What a purge of staged documents counts.
STAGED = "staged_documents"


def anonymize(
    session: Session, client_id: int, items: Sequence[Any], now: datetime
) -> dict[str, int]:
    """Null the personal fields of these (id, process_id) items and drop their copies."""
    by_process: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for item_id, process_id in items:
        by_process[process_id].append(item_id)
    schemas = {
        row.id: row
        for row in session.execute(
            select(Process.id, Process.input_schema, Process.form_schema).where(
                Process.client_id == client_id, Process.id.in_(by_process)
            )
        )
    }
    for process_id, ids in by_process.items():
        inputs = personal_fields(schemas[process_id].input_schema)
        results = personal_fields(schemas[process_id].form_schema)
        for item in session.execute(
            select(WorkItem.id, WorkItem.payload, WorkItem.result).where(
                WorkItem.client_id == client_id, WorkItem.id.in_(ids)
            )
        ):
            session.execute(
                update(WorkItem)
                .where(WorkItem.client_id == client_id, WorkItem.id == item.id)
                .values(
                    payload=_nulled(item.payload, inputs),
                    result=_nulled(item.result, results) if item.result else item.result,
                    sealed=None,
                    result_sealed=None,
                    purged_at=now,
                )
            )
    ids = [item_id for item_id, _ in items]
    return {
        "work_items": len(ids),
        "documents": documents.remove(session, client_id, ids),
        "keyings": _deleted(
            session, Keying, (Keying.client_id == client_id) & Keying.work_item_id.in_(ids)
        ),
        "webhook_deliveries": _deleted(
            session,
            WebhookDelivery,
            (WebhookDelivery.client_id == client_id)
            & WebhookDelivery.work_item_id.in_(ids)
            & (WebhookDelivery.status != "pending"),
        ),
    }


def _deleted(session: Session, table: Any, where: Any) -> int:
    result = session.execute(delete(table).where(where))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _nulled(values: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    return {name: None if name in fields else value for name, value in values.items()}


def _report(
    session: Session,
    client_id: int,
    reason: str,
    cutoff: datetime | None,
    counts: dict[str, int],
    now: datetime,
    key: bytes,
) -> PurgeReport:
    report = PurgeReport(client_id=client_id, reason=reason, at=now, cutoff=cutoff, counts=counts)
    session.add(report)
    session.flush()
    audit.record(
        session,
        key,
        client_id=client_id,
        actor="system:exit" if reason == "exit" else "system:retention",
        action="personal_data.purge",
        subject=f"purge_report:{report.id}",
        data={"reason": reason, "cutoff": cutoff.isoformat() if cutoff else None, **counts},
        now=now,
    )
    return report


# -- the end of a contract ------------------------------------------------------------------


def client_tables() -> list[Table]:
    """Every table of rows a client owns, parents before children."""
    return [table for table in Base.metadata.sorted_tables if "client_id" in table.c]


def export_client(
    session: Session, keyring: Keyring, client_id: int, directory: Path
) -> dict[str, Any]:
    """Write every row the client owns, one JSON Lines file per table (personal fields in
    clear, sealed values opened), and a manifest with each file's rows and SHA-256."""
    if session.get(Client, client_id) is None:
        raise NotFound(f"client {client_id} not found")
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    contents: dict[str, Any] = {}  # the files of documents' and attachments' bytes
    for table in client_tables():
        path = directory / f"{table.name}.jsonl"
        digest, rows = hashlib.sha256(), 0
        with path.open("w", encoding="utf-8") as out:
            query = select(table).where(table.c.client_id == client_id)
            # a document or an attachment may weigh megabytes
            per = 4 if table.name in _CONTENTS else 5_000
            for row in session.execute(query.execution_options(yield_per=per)).mappings():
                values = dict(row)
                if table.name in _OPENED:
                    _OPENED[table.name](keyring, client_id, values)
                if table.name in _CONTENTS:  # its bytes in a file of their own
                    values = _CONTENTS[table.name](keyring, client_id, values, directory, contents)
                if table.name == "users":
                    values.pop("password_hash", None)
                line = json.dumps(values, default=str, sort_keys=True) + "\n"
                out.write(line)
                digest.update(line.encode())
                rows += 1
        files[path.name] = {"rows": rows, "sha256": digest.hexdigest()}
    # The tables' files (their rows name each content file with its SHA-256), then the
    # content files themselves.
    manifest = {"client_id": client_id, "files": files, "contents": contents}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _item(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    item_id = values["id"]
    values["payload"] = opened(keyring, client_id, item_id, values["payload"], values.pop("sealed"))
    if values["result"] is not None:
        result, sealed = values["result"], values.pop("result_sealed")
        values["result"] = opened(keyring, client_id, item_id, result, sealed, RESULT)
    else:
        values.pop("result_sealed")


def _gold_item(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    gold_id = values["id"]
    values["payload"] = opened(keyring, client_id, gold_id, values["payload"], values.pop("sealed"))
    answer, sealed = values["answer"], values.pop("answer_sealed")
    values["answer"] = opened(keyring, client_id, gold_id, answer, sealed, ANSWER)


def _keying(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    item_id, part = values["work_item_id"], f"keying{values['number']}"
    values["values"] = opened(
        keyring, client_id, item_id, values["values"], values.pop("sealed"), part
    )


def _webhook_delivery(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    sealed, data = values.pop("result_sealed"), values["payload"].get("data") or {}
    if sealed:
        result = opened(keyring, client_id, values["work_item_id"], data["result"], sealed, RESULT)
        values["payload"] = {**values["payload"], "data": {**data, "result": result}}


def _content_file(directory: Path, name: str, data: bytes, contents: dict[str, Any]) -> None:
    """Write a content file (a document's, an attachment's bytes in clear) and note its
    size and SHA-256 for the manifest."""
    path = directory / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    contents[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _document(
    keyring: Keyring,
    client_id: int,
    values: dict[str, Any],
    directory: Path,
    contents: dict[str, Any],
) -> dict[str, Any]:
    """A document's bytes in clear, written to documents/<id>.<ext> beside the tables; its
    row names the file (the row's SHA-256 is the file's)."""
    data = documents.opened_bytes(keyring, client_id, values)
    name = f"documents/{values['id']}.{EXTENSIONS.get(values['media_type'], 'bin')}"
    _content_file(directory, name, data, contents)
    kept = {k: v for k, v in values.items() if k not in ("content", "sealed_with")}
    return {**kept, "file": name}


_SUFFIX = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def _attachment(
    keyring: Keyring,
    client_id: int,
    values: dict[str, Any],
    directory: Path,
    contents: dict[str, Any],
) -> dict[str, Any]:
    """An attachment's bytes in clear, written to conversation_attachments/<id>.<ext> (the
    extension of the name it came with, if a plain one) beside the tables; its row names
    the file and keeps the name it came with."""
    data = desk.opened_attachment(keyring, client_id, values)
    suffix = _SUFFIX.search(values["filename"] or "")
    extension = suffix.group(1).lower() if suffix else EXTENSIONS.get(values["media_type"], "bin")
    name = f"conversation_attachments/{values['id']}.{extension}"
    _content_file(directory, name, data, contents)
    kept = {k: v for k, v in values.items() if k not in ("content", "sealed_with")}
    return {**kept, "file": name}


_CONTENTS: dict[
    str, Callable[[Keyring, int, dict[str, Any], Path, dict[str, Any]], dict[str, Any]]
] = {
    "documents": _document,
    "conversation_attachments": _attachment,
}


def _customer(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    sealed = values.pop("sealed")
    if sealed:
        values["name"] = keyring.open(client_id, values["id"], sealed, CUSTOMER)["name"]


def _identity(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    """The identity's value in clear ({kind: value} sealed, bound to its customer)."""
    opened_ = keyring.open(client_id, values["customer_id"], values.pop("sealed"), IDENTITY)
    values["value"] = opened_.get(values["kind"])


def _conversation(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    """The subject in clear and, for one begun on the web, the customer's link."""
    sealed = values.pop("sealed")
    if sealed:
        opened_ = keyring.open(client_id, values["id"], sealed, MESSAGE)
        values["subject"] = opened_.get("subject", values["subject"])
        if "link" in opened_:
            values["link"] = opened_["link"]


def _message(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    """The sender, the new text, the whole text and the sanitized HTML in clear."""
    sealed = values.pop("sealed")
    if sealed:
        opened_ = keyring.open(client_id, values["id"], sealed, MESSAGE)
        for field in ("sender", "text", "full_text", "html"):
            if field in opened_:
                values[field] = opened_[field]


def _survey(keyring: Keyring, client_id: int, values: dict[str, Any]) -> None:
    sealed = values.pop("sealed")
    if sealed:
        values["comment"] = keyring.open(client_id, values["id"], sealed, SURVEY)["comment"]


# Tables whose rows keep personal values sealed: opened into the row on export, in place.
_OPENED: dict[str, Callable[[Keyring, int, dict[str, Any]], None]] = {
    "work_items": _item,
    "qa_gold_items": _gold_item,
    "qa_keyings": _keying,
    "webhook_deliveries": _webhook_delivery,
    "customers": _customer,
    "customer_identities": _identity,
    "conversations": _conversation,
    "conversation_messages": _message,
    "conversation_surveys": _survey,
}


def end_contract(
    session: Session,
    client_id: int,
    manifest: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    key: bytes,
) -> PurgeReport:
    """After the export (its manifest recorded in the audit trail): delete every row the
    client owns but the evidence, and mark the client ended."""
    client = session.get(Client, client_id, with_for_update=True)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    if client.ended_at is not None:
        raise Conflict(f"client {client_id}'s contract ended on {client.ended_at:%Y-%m-%d}")
    audit.record(
        session,
        key,
        client_id=client_id,
        actor=actor,
        action="client.export",
        subject=f"client:{client_id}",
        data={"files": manifest["files"]},
        now=now,
    )
    users = select(User.id).where(User.client_id == client_id).scalar_subquery()
    counts = {
        "console_sessions": _deleted(session, ConsoleSession, ConsoleSession.user_id.in_(users)),
        "api_tokens": _deleted(session, ApiToken, ApiToken.user_id.in_(users)),
    }
    for table in reversed(client_tables()):
        if table.name not in EVIDENCE:
            counts[table.name] = _deleted(session, table, table.c.client_id == client_id)
    client.ended_at = now
    client.retention_days = None
    return _report(session, client_id, "exit", None, counts, now, key)
