"""Conversations as each reader may see them: who sees which, and personal data masked as the
privacy layer masks it (tandem.privacy.service): in clear for the client's own people; masked
for provider staff (the customer's name and address, the subject, the free text of every
message). The customer's address is the system's to use (tandem.servicedesk.outgoing), never
shown to the provider's people.

Who sees which conversation: the client's people, their client's; provider staff who read
work items, every client's; an agent, only the conversation whose work item they hold under a
live lease now (tandem.work.access.live_lease); nobody else any. Beside the conversation it
holds, that agent sees which other conversations the same customer has (`of_customer`: their
subjects masked, their states), never their messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, select, true
from sqlalchemy.orm import Session

from tandem.core import paging
from tandem.servicedesk import sla
from tandem.servicedesk.customers import CUSTOMER, IDENTITY
from tandem.servicedesk.inbound import MESSAGE
from tandem.servicedesk.models import (
    Attachment,
    Brand,
    Conversation,
    Customer,
    CustomerIdentity,
    MailAttempt,
    Message,
    OutgoingMail,
)
from tandem.servicedesk.replies import missing
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.access import live_lease
from tandem.work.models import WorkItem


def visible(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Conversations this principal may read (see the module's description)."""
    if principal.client_id is not None:
        return Conversation.client_id == principal.client_id
    if Permission.WORK_ITEM_READ in principal.permissions:
        return true()
    if principal.agent_id is not None:
        return exists().where(
            WorkItem.client_id == Conversation.client_id,
            WorkItem.id == Conversation.work_item_id,
            live_lease(principal.agent_id, now),
        )
    return false()


def _clear(principal: Principal) -> bool:
    """Whether this reader sees personal data in clear: the client's own people only."""
    return principal.client_id is not None


@dataclass
class Sending:
    status: str  # queued, sent or failed
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    tries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MessageView:
    id: uuid.UUID
    direction: str
    kind: str
    sender: str | None
    author: str | None
    text: str
    has_html: bool
    authentication: str
    at: datetime
    attachments: list[dict[str, Any]]
    sending: Sending | None


@dataclass
class ConversationView:
    id: uuid.UUID
    client_id: int
    brand_id: uuid.UUID
    brand: str  # its code
    brand_name: str
    customer_id: uuid.UUID
    customer_name: str | None
    customer_address: str | None
    subject: str
    state: str
    pending_on: str | None
    tags: list[str]
    unverified_sender: bool
    work_item_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    mail_waiting: int  # outgoing mail not sent yet (queued)
    mail_failed: int
    # The brand's resolution target (tandem.servicedesk.sla): due (None while paused or
    # without a target), when solved, and whether it is missed (None: no target or paused).
    resolution_due_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_breached: bool | None = None
    messages: list[MessageView] | None = None


def find(
    ctx: Context,
    *,
    brand_id: uuid.UUID | None = None,
    states: Sequence[str] = (),
    window: paging.Window = paging.Window(),
) -> paging.Page[ConversationView]:
    """The conversations the caller may see matching the filters, the latest changed first,
    one page at a time, with how many match in all."""
    conditions = [visible(ctx.principal, ctx.now)]
    if brand_id is not None:
        conditions.append(Conversation.brand_id == brand_id)
    if states:
        conditions.append(Conversation.state.in_(states))
    query = (
        select(Conversation)
        .where(and_(*conditions))
        .order_by(Conversation.updated_at.desc(), Conversation.id)
    )
    return paging.read(ctx.session, query, window).map(lambda c: _view(ctx, c))


def get(ctx: Context, conversation_id: uuid.UUID) -> ConversationView:
    """One conversation with its messages in order, their attachments and the sending status
    of outgoing ones; NotFound, as for a missing one, when the caller may not see it."""
    conversation = ctx.session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, visible(ctx.principal, ctx.now)
        )
    )
    if conversation is None:
        raise missing(conversation_id)
    view = _view(ctx, conversation)
    view.messages = _messages(ctx, conversation)
    return view


def for_item(ctx: Context, item: WorkItem) -> ConversationView | None:
    """The conversation whose open work item `item` is, with its messages, if the caller may
    see it (None: the item is not a conversation's, as a ticket process's items are not)."""
    named = (item.payload or {}).get("conversation_id")
    try:
        conversation_id = uuid.UUID(str(named))
    except ValueError:
        return None
    conversation = ctx.session.scalar(
        select(Conversation).where(
            Conversation.client_id == item.client_id,
            Conversation.id == conversation_id,
            Conversation.work_item_id == item.id,
            visible(ctx.principal, ctx.now),
        )
    )
    if conversation is None:
        return None
    view = _view(ctx, conversation)
    view.messages = _messages(ctx, conversation)
    return view


@dataclass(frozen=True)
class Other:
    """Another conversation of the same customer, as a list shows it."""

    id: uuid.UUID
    brand: str  # its name
    subject: str
    state: str
    updated_at: datetime


def of_customer(ctx: Context, conversation_id: uuid.UUID, limit: int = 20) -> list[Other]:
    """The other conversations of the customer of a conversation the caller may see, the
    latest changed first: subjects masked but for the client's own people, no messages;
    NotFound, as for a missing one, when the caller may not see that conversation."""
    conversation = ctx.session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, visible(ctx.principal, ctx.now)
        )
    )
    if conversation is None:
        raise missing(conversation_id)
    client_id, clear = conversation.client_id, _clear(ctx.principal)
    rows = ctx.session.execute(
        select(Conversation, Brand.name)
        .join(
            Brand,
            (Brand.client_id == Conversation.client_id) & (Brand.id == Conversation.brand_id),
        )
        .where(
            Conversation.client_id == client_id,
            Conversation.customer_id == conversation.customer_id,
            Conversation.id != conversation.id,
        )
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(limit)
    ).all()
    return [
        Other(
            id=other.id,
            brand=name,
            subject=_open(ctx, client_id, other.id, other.sealed, MESSAGE).get(
                "subject", other.subject
            )
            if clear
            else other.subject,
            state=other.state,
            updated_at=other.updated_at,
        )
        for other, name in rows
    ]


def _open(ctx: Context, client_id: int, bound: uuid.UUID, sealed: str | None, part: str) -> Any:
    return ctx.keyring.open(client_id, bound, sealed, part) if sealed else {}


def _view(ctx: Context, conversation: Conversation) -> ConversationView:
    session, client_id, clear = ctx.session, conversation.client_id, _clear(ctx.principal)
    brand = session.get_one(Brand, (client_id, conversation.brand_id))
    customer = session.get_one(Customer, (client_id, conversation.customer_id))
    identity = session.scalar(
        select(CustomerIdentity)
        .where(
            CustomerIdentity.client_id == client_id,
            CustomerIdentity.customer_id == customer.id,
            CustomerIdentity.kind == "email",
        )
        .limit(1)
    )
    name, address, subject = customer.name, identity.masked if identity else None, None
    if clear:
        name = _open(ctx, client_id, customer.id, customer.sealed, CUSTOMER).get("name", name)
        if identity is not None:
            address = _open(ctx, client_id, customer.id, identity.sealed, IDENTITY).get("email")
        subject = _open(ctx, client_id, conversation.id, conversation.sealed, MESSAGE).get(
            "subject"
        )
    counts = dict(
        session.execute(
            select(OutgoingMail.status, func.count())
            .where(
                OutgoingMail.client_id == client_id,
                OutgoingMail.conversation_id == conversation.id,
            )
            .group_by(OutgoingMail.status)
        ).all()
    )
    return ConversationView(
        id=conversation.id,
        client_id=client_id,
        brand_id=brand.id,
        brand=brand.code,
        brand_name=brand.name,
        customer_id=customer.id,
        customer_name=name,
        customer_address=address,
        subject=subject if subject is not None else conversation.subject,
        state=conversation.state,
        pending_on=conversation.pending_on,
        tags=list(conversation.tags or []),
        unverified_sender=conversation.unverified_sender,
        work_item_id=conversation.work_item_id,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        mail_waiting=int(counts.get("queued", 0)),
        mail_failed=int(counts.get("failed", 0)),
        resolution_due_at=conversation.resolution_due_at,
        resolved_at=conversation.resolved_at,
        resolution_breached=sla.breached(
            sla.Resolution(
                conversation.resolution_due_at,
                conversation.resolution_paused_remaining_s,
                conversation.resolved_at,
            ),
            ctx.now,
        ),
    )


def _messages(ctx: Context, conversation: Conversation) -> list[MessageView]:
    session, client_id, clear = ctx.session, conversation.client_id, _clear(ctx.principal)
    messages = session.scalars(
        select(Message)
        .where(Message.client_id == client_id, Message.conversation_id == conversation.id)
        .order_by(Message.received_at, Message.id)
    ).all()
    ids = [m.id for m in messages]
    attachments: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for a in session.execute(
        select(
            Attachment.id,
            Attachment.message_id,
            Attachment.filename,
            Attachment.media_type,
            Attachment.size,
        )
        .where(Attachment.client_id == client_id, Attachment.message_id.in_(ids))
        .order_by(Attachment.filename, Attachment.id)
    ):
        attachments.setdefault(a.message_id, []).append(
            {"id": a.id, "filename": a.filename, "media_type": a.media_type, "size": a.size}
        )
    sending = _sending(session, client_id, ids)
    shown = []
    for m in messages:
        opened = _open(ctx, client_id, m.id, m.sealed, MESSAGE) if clear else {}
        shown.append(
            MessageView(
                id=m.id,
                direction=m.direction,
                kind=m.kind,
                sender=opened.get("sender", m.sender) if m.direction == "in" else m.sender,
                author=m.author,
                text=opened.get("text", m.text),
                has_html=m.has_html,
                authentication=m.authentication,
                at=m.received_at,
                attachments=attachments.get(m.id, []),
                sending=sending.get(m.id),
            )
        )
    return shown


def _sending(session: Session, client_id: int, ids: list[uuid.UUID]) -> dict[uuid.UUID, Sending]:
    mails = session.scalars(
        select(OutgoingMail).where(
            OutgoingMail.client_id == client_id, OutgoingMail.message_id.in_(ids)
        )
    ).all()
    tries: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for attempt in session.scalars(
        select(MailAttempt)
        .where(MailAttempt.client_id == client_id, MailAttempt.mail_id.in_([m.id for m in mails]))
        .order_by(MailAttempt.mail_id, MailAttempt.number)
    ):
        tries.setdefault(attempt.mail_id, []).append(
            {
                "number": attempt.number,
                "at": attempt.at,
                "smtp_code": attempt.smtp_code,
                "error": attempt.error,
            }
        )
    return {
        m.message_id: Sending(
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at if m.status == "queued" else None,
            last_error=m.last_error,
            sent_at=m.sent_at,
            tries=tries.get(m.id, []),
        )
        for m in mails
    }
