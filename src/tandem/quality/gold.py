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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import AuditRecord
from tandem.catalog.models import Process
from tandem.catalog.service import form_of, get_process, policy_for, result_personal
from tandem.core import paging
from tandem.core.db import new_id
from tandem.core.errors import InvalidInput, NotFound
from tandem.privacy.service import payload_for, result_storing, storing
from tandem.quality.models import GoldCopy, GoldItem, GoldSeeding, Review
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.vault.masking import mask_payload
from tandem.vault.sealing import ANSWER, Keyring, clear_payload, opened
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
    audit.record_in(  # who added it: the table keeps no actor
        ctx,
        client_id=process.client_id,
        action=ADDED,
        subject=f"gold_item:{gold.id}",
        data={"process_id": str(process.id)},
    )
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


# -- what the console and the API read, and retiring -------------------------------------------

# Audited actions on gold items (the audit chain also says who added each: the table does not).
ADDED, RETIRED, RESTORED = "gold_item.add", "gold_item.retire", "gold_item.restore"
# The scored copies listed per gold item, latest first (the counts cover them all).
SCORES_SHOWN = 20


@dataclass(frozen=True)
class Score:
    """One gold copy's scoring: who keyed it, when, and which fields were wrong (none: right).
    `agent_id` is None for a reader who may not see agents' quality."""

    work_item_id: uuid.UUID
    agent_id: uuid.UUID | None
    at: datetime
    wrong_fields: tuple[str, ...]

    @property
    def right(self) -> bool:
        return not self.wrong_fields


@dataclass(frozen=True)
class GoldView:
    """A gold item as its reader may see it, with its copies and how they were scored."""

    id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    payload: dict[str, Any]  # masked for provider staff, as reviewers see payloads
    answer: dict[str, Any]  # likewise
    active: bool
    created_at: datetime
    added_by: str | None  # an actor ("user:<id>"), from the audit chain; None before it was
    copies: int  # made by the gold job
    right: int
    wrong: int
    scores: tuple[Score, ...]  # the latest SCORES_SHOWN

    @property
    def unscored(self) -> int:
        """Copies not scored (yet): still queued or held, or taken out of the queue."""
        return self.copies - self.right - self.wrong


def _sees_agents(ctx: Context) -> bool:
    return (
        Permission.AGENT_QUALITY_READ in ctx.principal.permissions
        and ctx.principal.client_id is None
    )


def gold_items(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    active: bool | None = None,
    window: paging.Window = paging.Window(),
) -> tuple[Process, paging.Page[GoldView]]:
    """A page of a process's gold items (in use or retired, or both), the latest added first,
    masked for the reader; NotFound for a process the caller may not see."""
    session, keyring, principal = ctx.session, ctx.keyring, ctx.principal
    process = get_process(ctx, process_id)
    client_id = process.client_id
    query = select(GoldItem).where(
        GoldItem.client_id == client_id, GoldItem.process_id == process.id
    )
    if active is not None:
        query = query.where(GoldItem.active.is_(active))
    found = paging.read(session, query.order_by(GoldItem.created_at.desc(), GoldItem.id), window)
    golds: list[GoldItem] = found.items
    if not golds:
        return process, paging.Page([], found.total)
    ids = [g.id for g in golds]
    scored = (Review.client_id == GoldCopy.client_id) & (
        Review.work_item_id == GoldCopy.work_item_id
    )
    scored &= Review.kind == "gold"
    counts = {
        gold_id: (int(copies or 0), int(right or 0), int(wrong or 0))
        for gold_id, copies, right, wrong in session.execute(
            select(
                GoldCopy.gold_item_id,
                func.count(),
                func.sum(case((Review.defect.is_(False), 1), else_=0)),
                func.sum(case((Review.defect.is_(True), 1), else_=0)),
            )
            .select_from(GoldCopy)
            .outerjoin(Review, scored)
            .where(GoldCopy.client_id == client_id, GoldCopy.gold_item_id.in_(ids))
            .group_by(GoldCopy.gold_item_id)
        )
    }
    ranked = (
        select(
            GoldCopy.gold_item_id,
            Review.work_item_id,
            Review.agent_id,
            Review.at,
            Review.checks,
            func.row_number()
            .over(partition_by=GoldCopy.gold_item_id, order_by=(Review.at.desc(), Review.id))
            .label("n"),
        )
        .select_from(GoldCopy)
        .join(Review, scored)
        .where(GoldCopy.client_id == client_id, GoldCopy.gold_item_id.in_(ids))
        .subquery()
    )
    agents = _sees_agents(ctx)
    scores: dict[uuid.UUID, list[Score]] = {}
    for row in session.execute(
        select(ranked).where(ranked.c.n <= SCORES_SHOWN).order_by(ranked.c.gold_item_id, ranked.c.n)
    ):
        failed = tuple(str(c.get("name")) for c in row.checks or () if not c.get("passed"))
        scores.setdefault(row.gold_item_id, []).append(
            Score(row.work_item_id, row.agent_id if agents else None, row.at, failed)
        )
    added = dict(
        session.execute(
            select(AuditRecord.subject, AuditRecord.actor).where(
                AuditRecord.client_id == client_id,
                AuditRecord.action == ADDED,
                AuditRecord.subject.in_([f"gold_item:{i}" for i in ids]),
            )
        ).all()
    )
    personal = result_personal(session, client_id, process.id)
    views = []
    for g in golds:
        copies, right, wrong = counts.get(g.id, (0, 0, 0))
        if principal.client_id is not None:
            answer = opened(keyring, client_id, g.id, g.answer, g.answer_sealed, ANSWER)
        else:
            answer = mask_payload(g.answer, personal)
        views.append(
            GoldView(
                id=g.id,
                client_id=g.client_id,
                process_id=g.process_id,
                payload=payload_for(session, keyring, principal, g),
                answer=answer,
                active=g.active,
                created_at=g.created_at,
                added_by=added.get(f"gold_item:{g.id}"),
                copies=copies,
                right=right,
                wrong=wrong,
                scores=tuple(scores.get(g.id, ())),
            )
        )
    return process, paging.Page(views, found.total)


def set_active(ctx: Context, gold_id: uuid.UUID, active: bool) -> GoldItem:
    """Retire a gold item (no more copies of it are made; those queued are still scored) or
    use it again; audited. NotFound for a gold item the caller may not see."""
    found = ctx.session.scalar(
        select(GoldItem).where(
            GoldItem.id == gold_id, ctx.principal.client_condition(GoldItem.client_id)
        )
    )
    if found is None:
        raise NotFound(f"gold item {gold_id} not found")
    if found.active != active:
        found.active = active
        ctx.session.flush()
        audit.record_in(
            ctx,
            client_id=found.client_id,
            action=RESTORED if active else RETIRED,
            subject=f"gold_item:{found.id}",
            data={"process_id": str(found.process_id)},
        )
    return found
