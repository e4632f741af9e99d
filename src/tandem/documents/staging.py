"""Documents handed over ahead of their items ("by reference", issue 16): a client stages a
document for a process (checked by content and size, sealed with its key, as one handed over
with its item), then names its id in a file of items (tandem.intake.staged) or in one item
(tandem.intake.service.submit_item). At that intake the staged row becomes the item's
document, in the intake's transaction: one UPDATE of the row, its sealed bytes untouched (the
seal is bound to the document's id, which stays). A staged document is used once; one not
used before `staged_until` is refused, and purged by the worker
(tandem.custody.retention.purge_staged). It is a row of `documents` with no item (migration
0034 says why), so key rotations re-seal it and a client's exit hands it back and erases it
as any other document.

The bytes a client keeps staged and not yet expired are capped (a setting): the client's row
is locked while the total is read and the new document written, so concurrent uploads cannot
together pass the cap.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tandem.catalog.service import get_process, taking_work
from tandem.core.errors import InvalidInput
from tandem.documents import service
from tandem.documents.content import Limits
from tandem.documents.models import Document
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client


def stage(
    ctx: Context,
    process_id: uuid.UUID,
    data: bytes,
    bounds: Limits,
    *,
    life: timedelta,
    cap: int,
    field: str = "document",
) -> Document:
    """Keep a document for an item of the process to come, until `life` from now; checked
    by its content as one handed over with its item. InvalidInput if it would take the
    client's staged bytes past `cap`."""
    process = get_process(ctx, process_id)
    taking_work(process)
    described = service.checked(data, bounds, field)
    session, client_id = ctx.session, process.client_id
    # One upload at a time per client past this point: the total read is the total written.
    session.execute(select(Client.id).where(Client.id == client_id).with_for_update())
    kept = staged_bytes(session, client_id, ctx.now)
    if kept + described.size > cap:
        message = (
            f"the client's staged documents may hold at most {cap:,} bytes together "
            f"(staged_documents_max_bytes); {kept:,} are staged and not yet used: name them "
            "in items, or wait for them to expire"
        )
        raise InvalidInput(
            message,
            errors=[{"field": field, "message": message}],
            limit=cap,
            staged_bytes=kept,
        )
    until = ctx.now + life
    document_id = service.store(
        session,
        ctx.keyring,
        client_id,
        None,
        data,
        described,
        now=ctx.now,
        staged=(process.id, until),
    )
    return session.get_one(Document, (client_id, document_id))


def staged_bytes(session: Session, client_id: int, now: datetime) -> int:
    """The bytes of the client's staged documents not yet expired."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Document.size), 0)).where(
                Document.client_id == client_id, Document.staged_until > now
            )
        )
        or 0
    )


def unknown(value: object) -> str:
    """What a reference to no staged document of the caller's gets: the same for an id that
    exists nowhere and for another client's (nothing can be probed)."""
    return f"no staged document {value}"


def usable(
    session: Session, client_id: int, process_id: uuid.UUID, value: object, now: datetime
) -> tuple[uuid.UUID | None, str | None]:
    """The staged document a reference names, if the item may take it now; else what is
    wrong (not an id, unknown, for another process, already an item's, expired)."""
    text = str(value).strip()
    try:
        document_id = uuid.UUID(text)
    except ValueError:
        return None, f"{text[:60]!r} is not the id of a staged document"
    row = session.execute(
        select(Document.work_item_id, Document.staged_for, Document.staged_until).where(
            Document.client_id == client_id, Document.id == document_id
        )
    ).one_or_none()
    if row is None:
        return None, unknown(document_id)
    if row.work_item_id is not None:
        return None, f"staged document {document_id} is already an item's: each is used once"
    if row.staged_for != process_id:
        return None, f"staged document {document_id} was staged for another process"
    assert row.staged_until is not None  # the check constraint: staged rows have their time
    if row.staged_until <= now:
        return None, (
            f"staged document {document_id} expired at {row.staged_until:%Y-%m-%d %H:%M:%S} "
            "UTC: stage it again"
        )
    return document_id, None


def attach(
    session: Session, client_id: int, document_id: uuid.UUID, item_id: uuid.UUID, now: datetime
) -> bool:
    """Make the staged document the item's, if it still is staged and not expired; whether
    it was. (A concurrent intake naming it too waits for this row's lock, then finds it
    taken.)"""
    result = session.execute(
        update(Document)
        .where(
            Document.client_id == client_id,
            Document.id == document_id,
            Document.work_item_id.is_(None),
            Document.staged_until > now,
        )
        .values(work_item_id=item_id, staged_for=None, staged_until=None)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def remove_expired(session: Session, client_id: int, now: datetime, batch: int) -> int:
    """Delete up to `batch` of the client's staged documents past their time; how many."""
    ids = (
        select(Document.id)
        .where(Document.client_id == client_id, Document.staged_until <= now)
        .limit(batch)
        .scalar_subquery()
    )
    result = session.execute(
        delete(Document).where(
            Document.client_id == client_id,
            Document.id.in_(ids),
            Document.staged_until <= now,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
