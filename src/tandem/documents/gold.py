"""Gold items that carry a document, so that a gold copy cannot be told from a real item by
the document it lacks.

A gold item is made from a delivered item of its process (`from_item`): it takes that item's
id, as the known-answer version of it (the gold items' table and the work items' are apart,
so nothing else is bound to the id), and carries that item's document. Each copy the gold
job makes gets the document sealed again, under a document row and id of its own, with the
client's current key: the copy's agent opens it like any other, through the copy's lease.

A gold item without a document on a process whose items come with documents is refused, not
added with a warning: every copy of it would be the one queued item with no scan beside the
form, an agent would learn to spot it, and its score would measure the spotting, not the
keying. Nobody reads a warning in an API answer while the copies go on being made. For the
same reason the gold job leaves out, on such a process, gold items whose document is gone
(the retention purge removed the delivered item's), and makes no copy at all when none is
left (tandem.quality.gold.seed_gold with `GOLD_DOCUMENTS`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core.errors import Conflict, InvalidInput
from tandem.documents import service
from tandem.documents.content import Checked
from tandem.documents.models import Document
from tandem.quality import gold
from tandem.quality.models import GoldItem
from tandem.tenancy.context import Context
from tandem.vault.sealing import DOCUMENT, Keyring, clear_payload, clear_result
from tandem.work import access
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem


def with_documents(session: Session, client_id: int, process_id: uuid.UUID) -> bool:
    """Whether real items of the process have come with documents."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Document.client_id == client_id,
                    WorkItem.client_id == Document.client_id,
                    WorkItem.id == Document.work_item_id,
                    WorkItem.process_id == process_id,
                    WorkItem.gold.is_(False),
                )
            )
        )
    )


def add_gold_item(
    ctx: Context,
    process_id: uuid.UUID,
    payload: dict[str, Any] | None,
    answer: dict[str, Any] | None,
    *,
    from_item: uuid.UUID | None = None,
) -> GoldItem:
    """A new gold item (tandem.quality.gold.add_gold_item), made from the delivered item
    `from_item` whose document it carries; without one, refused on a process whose items
    come with documents (see the module's docstring for why refused, not warned about).
    Made from an item, its payload and answer default to the item's input and delivered
    result, taken in clear on the server (personal fields never pass through the page)."""
    process = get_process(ctx, process_id)
    if from_item is None:
        if payload is None or answer is None:
            missing = [
                {"field": name, "message": "required unless from_item_id names a delivered item"}
                for name, given in (("payload", payload), ("answer", answer))
                if given is None
            ]
            raise InvalidInput("the gold item's payload or answer is missing", errors=missing)
        if with_documents(ctx.session, process.client_id, process.id):
            message = (
                "this process's items come with documents: name a delivered item whose "
                "document the gold item carries (from_item_id), or its copies would be told "
                "apart by the document they lack"
            )
            raise InvalidInput(message, errors=[{"field": "from_item_id", "message": message}])
        return gold.add_gold_item(ctx, process_id, payload, answer)
    item = access.get_visible(ctx, from_item)
    problem = None
    if item.process_id != process.id or item.client_id != process.client_id:
        problem = "is not an item of this process"
    elif item.gold:
        problem = "is a gold copy"
    elif item.state != State.DELIVERED.value:
        problem = "is not delivered"
    elif service.of_item(ctx.session, item.client_id, item.id) is None:
        problem = "has no document (its personal data may have been purged)"
    if problem is not None:
        message = f"work item {from_item} {problem}"
        raise InvalidInput(message, errors=[{"field": "from_item_id", "message": message}])
    if ctx.session.get(GoldItem, (process.client_id, from_item)) is not None:
        raise Conflict(f"a gold item was already made from work item {from_item}")
    if payload is None:
        payload = clear_payload(ctx.keyring, item)
    if answer is None:
        answer = clear_result(ctx.keyring, item) or {}
    return gold.add_gold_item(ctx, process_id, payload, answer, gold_id=from_item)


# Delivered items offered to make a gold item from, latest first.
CANDIDATES_SHOWN = 20


@dataclass(frozen=True)
class Candidate:
    """A delivered item a gold item may be made from: real, delivered, with its document."""

    id: uuid.UUID
    external_ref: str | None
    delivered_at: datetime | None


def candidates(ctx: Context, process_id: uuid.UUID) -> list[Candidate]:
    """The latest delivered real items of the process that carry a document and that no gold
    item was made from yet; NotFound for a process the caller may not see."""
    process = get_process(ctx, process_id)
    taken = select(GoldItem.id).where(
        GoldItem.client_id == process.client_id, GoldItem.process_id == process.id
    )
    carrying = exists().where(
        Document.client_id == WorkItem.client_id, Document.work_item_id == WorkItem.id
    )
    rows = ctx.session.execute(
        select(WorkItem.id, WorkItem.external_ref, WorkItem.delivered_at)
        .where(
            WorkItem.client_id == process.client_id,
            WorkItem.process_id == process.id,
            WorkItem.state == State.DELIVERED.value,
            WorkItem.gold.is_(False),
            WorkItem.id.not_in(taken),
            carrying,
        )
        .order_by(WorkItem.delivered_at.desc(), WorkItem.id)
        .limit(CANDIDATES_SHOWN)
    )
    return [Candidate(*row) for row in rows]


class _GoldDocuments:
    """Documents for the gold job (tandem.quality.gold.GoldDocuments)."""

    def copiable(
        self, session: Session, process: Process, golds: Sequence[GoldItem]
    ) -> list[GoldItem]:
        carrying = set(
            session.scalars(
                select(Document.work_item_id).where(
                    Document.client_id == process.client_id,
                    Document.work_item_id.in_([g.id for g in golds]),
                )
            )
        )
        if carrying:
            return [g for g in golds if g.id in carrying]
        if with_documents(session, process.client_id, process.id):
            return []  # a copy with no document would be told apart
        return list(golds)

    def copy(
        self,
        session: Session,
        keyring: Keyring,
        client_id: int,
        copies: Sequence[tuple[uuid.UUID, uuid.UUID]],
        now: datetime,
    ) -> None:
        sources = {
            document.work_item_id: document
            for document in session.scalars(
                select(Document).where(
                    Document.client_id == client_id,
                    Document.work_item_id.in_({gold_id for _, gold_id in copies}),
                )
            )
        }
        clear: dict[uuid.UUID, bytes] = {}
        for copy_id, gold_id in copies:
            source = sources.get(gold_id)
            if source is None:
                continue
            if gold_id not in clear:
                clear[gold_id] = keyring.open_bytes(
                    client_id, source.id, source.sealed_with, source.content, DOCUMENT
                )
            described = Checked(
                source.media_type,
                source.pages,
                source.size,
                source.sha256,
                source.width,
                source.height,
            )
            service.store(session, keyring, client_id, copy_id, clear[gold_id], described, now=now)


GOLD_DOCUMENTS = _GoldDocuments()
