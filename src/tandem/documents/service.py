"""Documents in and out of storage: stored sealed with an item, opened (audited) by whoever
may work on or review the item, drawn a page at a time, re-sealed by a key rotation, removed
by the retention purge.

Who may open an item's document: the agent holding its lease now, a reviewer (or
adjudicator) of it while it waits in review and was not their own work (tandem.work.access
for the lease, tandem.quality.reviews for review, as their desks decide), and the client's
own people. Anyone else gets what a missing item gets (404). Each opening is an audit record
(who, which item and document, as what), and gives a ticket: the pages are drawn only for a
ticket of the same person, the same item and the item as it was then (its version: a lease
taken again, a move to review, need an opening of their own), within TICKET_LIFE. So every
page anyone sees follows an audited opening, and paging through does not write to the trail
at each page.

Drawn pages, and a document's bytes in clear, are kept briefly per process (bounded caches
with a time to live, tandem.core.caching), so paging and zooming do not open and decrypt the
document again each time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.core.caching import CACHES, LruCache
from tandem.core.config import Settings
from tandem.core.db import new_id
from tandem.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tandem.documents import content, pages
from tandem.documents.content import Checked, Limits, Refused
from tandem.documents.models import Document
from tandem.quality import reviews
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.permissions import Permission
from tandem.vault.sealing import DOCUMENT, Keyring
from tandem.work import access
from tandem.work.models import WorkItem

TICKET_LIFE = timedelta(hours=12)
# Pages drawn, by document, page and drawing; a document's bytes in clear, by document and
# key: both facts that never change (a purged document is refused before either is asked).
_PAGES: LruCache[tuple[int, uuid.UUID, str, pages.Drawing], bytes] = CACHES.bounded(
    "documents.pages", 256, ttl_s=120
)
_CLEAR: LruCache[tuple[int, uuid.UUID, str], bytes] = CACHES.bounded("documents.clear", 4, ttl_s=60)


def limits(settings: Settings) -> Limits:
    return Limits(
        settings.document_max_bytes, settings.document_max_pages, settings.document_max_pixels
    )


def checked(data: bytes, bounds: Limits, field: str = "document") -> Checked:
    """The document checked by its content; InvalidInput naming `field` otherwise."""
    try:
        return content.check(data, bounds)
    except Refused as exc:
        raise InvalidInput(str(exc), errors=[{"field": field, "message": str(exc)}]) from None


def store(
    db: Session | Connection,
    keyring: Keyring,
    client_id: int,
    item_id: uuid.UUID | None,
    data: bytes,
    document: Checked,
    *,
    now: datetime,
    staged: tuple[uuid.UUID, datetime] | None = None,
) -> uuid.UUID:
    """Keep a checked document as the item's, sealed with the client's current key; or,
    with no item, staged for a process until a time (`staged`: tandem.documents.staging)."""
    assert (item_id is None) == (staged is not None), "an item's, or staged: one of the two"
    version = int(db.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one())
    document_id = new_id()
    sealed_with, box = keyring.seal_bytes(client_id, version, document_id, data, DOCUMENT)
    db.execute(
        insert(Document).values(
            client_id=client_id,
            id=document_id,
            work_item_id=item_id,
            media_type=document.media_type,
            pages=document.pages,
            size=document.size,
            sha256=document.sha256,
            width=document.width,
            height=document.height,
            sealed_with=sealed_with,
            content=box,
            received_at=now,
            staged_for=staged[0] if staged else None,
            staged_until=staged[1] if staged else None,
        )
    )
    return document_id


def replace(ctx: Context, item_id: uuid.UUID, data: bytes, bounds: Limits) -> Document:
    """The client's new document for an item still waiting in the queue (a wrong or unreadable
    scan sent), in place of the one it has, if any; audited with both fingerprints. Once an
    agent holds the item (or later), refused (409): the agent is keying from the document.
    The item's row is locked meanwhile, so no claim takes it half-changed."""
    item = access.get_visible(ctx, item_id)
    locked = ctx.session.scalar(
        select(WorkItem)
        .where(WorkItem.client_id == item.client_id, WorkItem.id == item.id)
        .with_for_update()
    )
    if locked is None or locked.state != "queued":
        state = locked.state if locked is not None else "gone"
        raise Conflict(
            f"work item {item_id} is {state}: a document is replaced only while the item "
            "waits in the queue",
            state=state,
        )
    described = checked(data, bounds)
    before = of_item(ctx.session, item.client_id, item.id)
    if before is not None:
        ctx.session.execute(
            delete(Document).where(Document.client_id == item.client_id, Document.id == before.id)
        )
    store(ctx.session, ctx.keyring, item.client_id, item.id, data, described, now=ctx.now)
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action="document.replace",
        subject=f"work_item:{item.id}",
        data={
            "replaced_sha256": before.sha256 if before is not None else None,
            "sha256": described.sha256,
            "pages": described.pages,
        },
    )
    found = of_item(ctx.session, item.client_id, item.id)
    assert found is not None
    return found


def of_item(session: Session, client_id: int, item_id: uuid.UUID) -> Document | None:
    """The item's document as described (its bytes are not loaded), or None; no access
    check: for pages that already decided the reader may see the item."""
    return session.scalar(
        select(Document).where(Document.client_id == client_id, Document.work_item_id == item_id)
    )


# -- who may open it -----------------------------------------------------------------------


def openable(ctx: Context, item_id: uuid.UUID) -> tuple[WorkItem, str]:
    """The item, if the caller may open its document now, and as what (lease, review,
    client); otherwise what a missing item gets."""
    principal = ctx.principal
    if principal.client_id is not None:
        return access.get_visible(ctx, item_id), "client"
    if principal.agent_id is not None:
        try:
            return access.held(ctx.session, principal.agent_id, item_id, now=ctx.now), "lease"
        except NotFound:
            pass
    if Permission.QUALITY_REVIEW in principal.permissions:
        try:
            request, item = reviews.waiting(ctx, item_id)
        except NotFound:
            raise access.not_found(item_id) from None
        if principal.agent_id is None or request.agent_id != principal.agent_id:
            return item, "review"  # four eyes: not one's own work
    raise access.not_found(item_id)


def _document(ctx: Context, item: WorkItem) -> Document:
    document = of_item(ctx.session, item.client_id, item.id)
    if document is None:
        raise NotFound(f"work item {item.id} has no document")
    return document


@dataclass(frozen=True)
class Opened:
    document: Document
    ticket: str
    expires_at: datetime


def open_document(ctx: Context, item_id: uuid.UUID) -> Opened:
    """Open the item's document: an audit record, and a ticket to draw its pages with."""
    item, opener = openable(ctx, item_id)
    document = _document(ctx, item)
    audit.record_in(
        ctx,
        client_id=item.client_id,
        action="document.open",
        subject=f"work_item:{item.id}",
        data={"document": str(document.id), "as": opener, "pages": document.pages},
    )
    expires = ctx.now + TICKET_LIFE
    return Opened(document, _ticket(ctx, item, int(expires.timestamp())), expires)


def _ticket(ctx: Context, item: WorkItem, expires: int) -> str:
    key = hmac.new(ctx.audit_key, b"tandem document tickets", hashlib.sha256).digest()
    said = f"{ctx.principal.actor}|{item.client_id}|{item.id}|{item.version}|{expires}"
    mac = hmac.new(key, said.encode(), hashlib.sha256).digest()
    return f"{expires}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _valid(ctx: Context, item: WorkItem, ticket: str) -> bool:
    expires, _, _ = ticket.partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    if int(expires) <= ctx.now.timestamp():
        return False
    return hmac.compare_digest(ticket.encode(), _ticket(ctx, item, int(expires)).encode())


# -- its pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSource:
    """What drawing a page needs, read in the request's transaction: the cache's key, the
    document's kind and its bytes in clear."""

    key: tuple[int, uuid.UUID, str, pages.Drawing]
    media_type: str
    data: bytes


def page_source(
    ctx: Context, item_id: uuid.UUID, ticket: str, drawing: pages.Drawing
) -> PageSource:
    """Everything drawing the page needs, once the caller is known to hold a ticket of an
    opening of this item as it is now."""
    item, _ = openable(ctx, item_id)
    if not _valid(ctx, item, ticket):
        raise Forbidden(
            "open the document first (POST /api/v1/work-items/{id}/document/openings, which "
            "is recorded): its ticket has expired, or is of another item, person or lease"
        )
    document = _document(ctx, item)
    if drawing.number > document.pages:
        message = f"the document has {document.pages} page(s)"
        raise InvalidInput(message, errors=[{"field": "number", "message": message}])
    return PageSource(
        (document.client_id, document.id, document.sha256, drawing),
        document.media_type,
        _clear(ctx.session, ctx.keyring, document),
    )


def _clear(session: Session, keyring: Keyring, document: Document) -> bytes:
    def load() -> bytes:
        box = session.scalar(
            select(Document.content).where(
                Document.client_id == document.client_id, Document.id == document.id
            )
        )
        if box is None:
            raise NotFound(f"work item {document.work_item_id} has no document")
        return keyring.open_bytes(
            document.client_id, document.id, document.sealed_with, box, DOCUMENT
        )

    return _CLEAR.get_or_load((document.client_id, document.id, document.sealed_with), load)


def drawn(source: PageSource) -> bytes:
    """The page drawn (or as drawn a moment ago): after the transaction, which drawing need
    not hold."""
    drawing = source.key[3]
    return _PAGES.get_or_load(
        source.key, lambda: pages.draw(source.data, source.media_type, drawing)
    )


# -- custody: rotation, purge, export -----------------------------------------------------------


def reseal(
    session: Session, keyring: Keyring, client_id: int, target: str, version: int, batch: int
) -> int:
    """Re-seal up to `batch` of the client's documents not yet under the rotation's key
    (`target`, the prefix of values it seals), staged ones included; returns how many. A
    document re-sealed leaves the condition, so each batch starts from the first left."""
    rows = session.execute(
        select(Document.id, Document.sealed_with)
        .where(Document.client_id == client_id, Document.sealed_with != target)
        .order_by(Document.id)
        .limit(batch)
    ).all()
    for document_id, sealed_with in rows:
        box = session.scalar(
            select(Document.content).where(
                Document.client_id == client_id, Document.id == document_id
            )
        )
        if box is None:
            continue
        data = keyring.open_bytes(client_id, document_id, sealed_with, box, DOCUMENT)
        prefix, sealed = keyring.seal_bytes(client_id, version, document_id, data, DOCUMENT)
        session.execute(
            update(Document)
            .where(
                Document.client_id == client_id,
                Document.id == document_id,
                Document.sealed_with == sealed_with,  # re-sealed meanwhile: leave it
            )
            .values(sealed_with=prefix, content=sealed)
        )
    return len(rows)


def remove(session: Session, client_id: int, item_ids: Sequence[uuid.UUID]) -> int:
    """Delete the documents of these items (their personal data is being purged)."""
    result = session.execute(
        delete(Document).where(Document.client_id == client_id, Document.work_item_id.in_(item_ids))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def opened_bytes(keyring: Keyring, client_id: int, row: dict[str, object]) -> bytes:
    """A documents row's bytes in clear (for the client's export at its exit), an item's
    or a staged one's."""
    box, sealed_with, document_id = row["content"], row["sealed_with"], row["id"]
    assert isinstance(box, bytes) and isinstance(sealed_with, str)
    assert isinstance(document_id, uuid.UUID)
    return keyring.open_bytes(client_id, document_id, sealed_with, box, DOCUMENT)
