"""Gold items: known-answer items, defined per process, copied into its queue unannounced at
the process's gold rate, and scored automatically when submitted (tandem.quality.control).

The copies are ordinary queued items to the agents who get them; clients never see them
(tenancy's item scoping hides gold items) and they are never delivered or billed. A gold
item's input is kept as an item's is: personal fields masked, their clear values sealed and
bound to the gold item; each copy is sealed again, bound to the copy (a sealed value opens
only on the row it was sealed for).

Documents: a gold item made from a delivered item carries that item's document, and each
copy gets it sealed again under a document of its own. Which gold items carry one, and the
copying, are the documents feature's (tandem.documents.gold, above this layer): the gold job
is handed them as `GoldDocuments`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import form_of, get_process, policy_for
from tandem.core.db import new_id
from tandem.core.errors import InvalidInput
from tandem.privacy.service import result_storing, storing
from tandem.quality.models import GoldCopy, GoldItem, GoldSeeding
from tandem.tenancy.context import Context
from tandem.vault.sealing import ANSWER, Keyring, clear_payload
from tandem.work import transitions
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.transitions import new_item_row


class GoldDocuments(Protocol):
    """What the gold job asks of documents (tandem.documents.gold)."""

    def copiable(
        self, session: Session, process: Process, golds: Sequence[GoldItem]
    ) -> list[GoldItem]:
        """The gold items a copy may be made of now: on a process whose items come with
        documents, only those whose copies will carry one."""
        ...

    def copy(
        self,
        session: Session,
        keyring: Keyring,
        client_id: int,
        copies: Sequence[tuple[uuid.UUID, uuid.UUID]],
        now: datetime,
    ) -> None:
        """Give each copy (its id, its gold item's id) its gold item's document, if any."""
        ...


def add_gold_item(
    ctx: Context,
    process_id: uuid.UUID,
    payload: dict[str, Any],
    answer: dict[str, Any],
    *,
    gold_id: uuid.UUID | None = None,
) -> GoldItem:
    """A new gold item; its payload's and its answer's personal fields stored as an item's
    input and result are (masked, the clear values sealed, bound to the gold item's id).
    `gold_id` is the delivered item's a gold item is made from (tandem.documents.gold)."""
    session, keyring = ctx.session, ctx.keyring
    process = get_process(ctx, process_id)
    errors = [
        {"field": f"payload.{e.field}", "message": e.message}
        for e in form_of(process.input_schema).errors(payload)
    ] + [
        {"field": f"answer.{e.field}", "message": e.message}
        for e in form_of(process.form_schema).errors(answer)
    ]
    if errors:
        raise InvalidInput("the gold item does not match the process's forms", errors=errors)
    gold_id = gold_id or new_id()
    store = storing(session, keyring, process.client_id, process.id)
    stored, sealed = store(gold_id, payload) if store is not None else (payload, None)
    store = result_storing(session, keyring, process.client_id, process.id, ANSWER)
    kept, answer_sealed = store(gold_id, answer) if store is not None else (answer, None)
    gold = GoldItem(
        client_id=process.client_id,
        id=gold_id,
        process_id=process.id,
        payload=stored,
        sealed=sealed,
        answer=kept,
        answer_sealed=answer_sealed,
        created_at=ctx.now,
    )
    session.add(gold)
    session.flush()
    return gold


def seed_gold(
    session: Session,
    now: datetime,
    rng: random.Random,
    at_risk_fraction: float,
    *,
    keyring: Keyring,
    documents: GoldDocuments | None = None,
) -> int:
    """Copy gold items into the queues of processes with a gold rate: for every item that
    arrived for people to work since the last pass (items still open: what the client's
    rules decided at once never reaches an agent), `rate` gold items are owed; whole ones
    are made. Returns how many were made.

    Each copy's personal values are sealed again under the copy's own id; with `documents`,
    each copy carries its gold item's document, and a process whose items come with
    documents gets no copy without one (it would be told apart)."""
    made = 0
    for process in session.scalars(
        select(Process).where(Process.qa_gold_rate > 0, Process.active.is_(True))
    ):
        golds = session.scalars(
            select(GoldItem).where(
                GoldItem.client_id == process.client_id,
                GoldItem.process_id == process.id,
                GoldItem.active.is_(True),
            )
        ).all()
        if documents is not None and golds:
            golds = documents.copiable(session, process, golds)
        seeding = session.get(GoldSeeding, (process.client_id, process.id))
        if seeding is None:
            session.add(
                GoldSeeding(
                    client_id=process.client_id, process_id=process.id, counted_until=now, owed=0.0
                )
            )
            continue
        if not golds:
            seeding.counted_until = now
            continue
        arrived = (
            session.scalar(
                select(func.count()).where(
                    WorkItem.client_id == process.client_id,
                    WorkItem.process_id == process.id,
                    WorkItem.state.not_in((State.DELIVERED.value, State.CANCELLED.value)),
                    WorkItem.gold.is_(False),
                    WorkItem.received_at > seeding.counted_until,
                    WorkItem.received_at <= now,
                )
            )
            or 0
        )
        owed = seeding.owed + arrived * process.qa_gold_rate
        count = int(owed)
        if count:
            sla = policy_for(session, process.client_id, process.id, at_risk_fraction)
            chosen = [rng.choice(golds) for _ in range(count)]
            rows = [new_item_row(process, sla, gold.payload, now, gold=True) for gold in chosen]
            store = storing(session, keyring, process.client_id, process.id)
            if store is not None:  # each copy sealed again, under its own id
                for row, gold in zip(rows, chosen, strict=True):
                    row["payload"], row["sealed"] = store(row["id"], clear_payload(keyring, gold))
            transitions.arrive(session, rows, actor="system:gold")
            if documents is not None:
                copies = [(row["id"], gold.id) for row, gold in zip(rows, chosen, strict=True)]
                documents.copy(session, keyring, process.client_id, copies, now)
            session.execute(
                insert(GoldCopy),
                [
                    {
                        "client_id": process.client_id,
                        "work_item_id": row["id"],
                        "gold_item_id": gold.id,
                    }
                    for row, gold in zip(rows, chosen, strict=True)
                ],
            )
            made += count
        seeding.owed = owed - count
        seeding.counted_until = now
    session.flush()
    return made
