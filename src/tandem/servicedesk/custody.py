"""What custody (tandem.custody: the retention purge, the contract-end export, key rotation)
needs of the service desk's tables: which conversations a retention purge takes, purging
them, and attachments' bytes opened and re-sealed. Custody sits above the service desk and
calls these; nothing here knows of custody.

A conversation is finished for retention when it is solved or closed, was last changed
(`updated_at`: a state move, a reply, a customer's message) before the cutoff, and nothing
came since: no message (an auto-responder's mail changes no state) and no survey answered.
It is due while something personal is left in it: its sealed subject (and web link), a
message's sealed text, an attachment, a survey's sealed comment. A purge keeps the masked
text (subject, messages, comment), states and times, so the figures still count; its
customer's name and identities go only once every conversation of theirs is finished."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from tandem.servicedesk import states
from tandem.servicedesk.inbound import ATTACHMENT
from tandem.servicedesk.models import (
    Attachment,
    Conversation,
    Customer,
    CustomerIdentity,
    MailAttempt,
    Message,
    OutgoingMail,
)
from tandem.servicedesk.surveys import Survey
from tandem.vault.sealing import Keyring

FINISHED = (states.SOLVED, states.CLOSED)


def finished(cutoff: datetime) -> ColumnElement[bool]:
    """Conversations finished before `cutoff` (see the module's description)."""
    message, survey = aliased(Message), aliased(Survey)  # never taken for an outer query's
    message_since = exists().where(
        message.client_id == Conversation.client_id,
        message.conversation_id == Conversation.id,
        message.received_at >= cutoff,
    )
    answer_since = exists().where(
        survey.client_id == Conversation.client_id,
        survey.conversation_id == Conversation.id,
        survey.answered_at >= cutoff,
    )
    done: ColumnElement[bool] = (
        Conversation.state.in_(FINISHED)
        & (Conversation.updated_at < cutoff)
        & ~message_since
        & ~answer_since
    )
    return done


def _personal_left() -> ColumnElement[bool]:
    message, attachment, survey = aliased(Message), aliased(Attachment), aliased(Survey)
    in_it = (message.client_id == Conversation.client_id) & (
        message.conversation_id == Conversation.id
    )
    sealed_message = exists().where(in_it, message.sealed.is_not(None))
    attached = exists(
        select(attachment.id)
        .join(
            message,
            (message.client_id == attachment.client_id) & (message.id == attachment.message_id),
        )
        .where(in_it)
    )
    comment = exists().where(
        survey.client_id == Conversation.client_id,
        survey.conversation_id == Conversation.id,
        survey.sealed.is_not(None),
    )
    left: ColumnElement[bool] = (
        Conversation.sealed.is_not(None) | sealed_message | attached | comment
    )
    return left


def due(client_id: int, cutoff: datetime) -> ColumnElement[bool]:
    """The client's conversations a retention purge with this cutoff takes."""
    taken: ColumnElement[bool] = (
        (Conversation.client_id == client_id) & finished(cutoff) & _personal_left()
    )
    return taken


def due_ids(session: Session, client_id: int, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """Up to `limit` of them, the longest finished first."""
    return list(
        session.scalars(
            select(Conversation.id)
            .where(due(client_id, cutoff))
            .order_by(Conversation.updated_at, Conversation.id)
            .limit(limit)
        )
    )


def _customers_done(client_id: int, customer_ids: Any, cutoff: datetime) -> ColumnElement[bool]:
    """Customers (of `customer_ids`) whose every conversation is finished before `cutoff`
    and who still have a name or an identity."""
    unfinished = exists().where(
        Conversation.client_id == Customer.client_id,
        Conversation.customer_id == Customer.id,
        ~finished(cutoff),
    )
    identity = exists().where(
        CustomerIdentity.client_id == Customer.client_id,
        CustomerIdentity.customer_id == Customer.id,
    )
    done: ColumnElement[bool] = (
        (Customer.client_id == client_id)
        & Customer.id.in_(customer_ids)
        & ~unfinished
        & (Customer.sealed.is_not(None) | Customer.name.is_not(None) | identity)
    )
    return done


def _count(session: Session, table: Any, where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(where)) or 0)


def counted(session: Session, client_id: int, cutoff: datetime) -> dict[str, int]:
    """What `purge` would remove of every conversation due now (the preview's counts)."""
    conversations = select(Conversation.id).where(due(client_id, cutoff))
    customers = select(Conversation.customer_id).where(due(client_id, cutoff))
    messages = select(Message.id).where(
        Message.client_id == client_id, Message.conversation_id.in_(conversations)
    )
    return {
        "conversations": _count(session, Conversation, due(client_id, cutoff)),
        "messages": _count(
            session,
            Message,
            (Message.client_id == client_id)
            & Message.conversation_id.in_(conversations)
            & Message.sealed.is_not(None),
        ),
        "attachments": _count(
            session,
            Attachment,
            (Attachment.client_id == client_id) & Attachment.message_id.in_(messages),
        ),
        "survey_comments": _count(
            session,
            Survey,
            (Survey.client_id == client_id)
            & Survey.conversation_id.in_(conversations)
            & Survey.sealed.is_not(None),
        ),
        "customers": _count(session, Customer, _customers_done(client_id, customers, cutoff)),
    }


def _changed(session: Session, statement: Any) -> int:
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def purge(
    session: Session, client_id: int, conversation_ids: Sequence[uuid.UUID], cutoff: datetime
) -> dict[str, int]:
    """Remove the personal data of these conversations (finished before `cutoff`): the
    sealed subject and link, messages' sealed values (sender, texts, HTML), attachments
    (deleted), survey comments' sealed values, the relay's answers kept with their mail (they
    may name the address); and of their customers with no conversation unfinished, the name
    (masked and sealed) and every identity (deleted: the customer writing again is a new
    one). Masked texts, states and times stay. Returns the counts, by kind."""
    ids = list(conversation_ids)
    if not ids:
        return dict.fromkeys(
            ("conversations", "messages", "attachments", "survey_comments", "customers"), 0
        )
    messages = select(Message.id).where(
        Message.client_id == client_id, Message.conversation_id.in_(ids)
    )
    attachments = _changed(
        session,
        delete(Attachment).where(
            Attachment.client_id == client_id, Attachment.message_id.in_(messages)
        ),
    )
    sealed_messages = _changed(
        session,
        update(Message)
        .where(
            Message.client_id == client_id,
            Message.conversation_id.in_(ids),
            Message.sealed.is_not(None),
        )
        .values(sealed=None),
    )
    mails = select(OutgoingMail.id).where(
        OutgoingMail.client_id == client_id, OutgoingMail.conversation_id.in_(ids)
    )
    session.execute(
        update(MailAttempt)
        .where(MailAttempt.client_id == client_id, MailAttempt.mail_id.in_(mails))
        .values(error=None)
    )
    session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.client_id == client_id, OutgoingMail.conversation_id.in_(ids))
        .values(last_error=None)
    )
    comments = _changed(
        session,
        update(Survey)
        .where(
            Survey.client_id == client_id,
            Survey.conversation_id.in_(ids),
            Survey.sealed.is_not(None),
        )
        .values(sealed=None),
    )
    session.execute(
        update(Conversation)
        .where(Conversation.client_id == client_id, Conversation.id.in_(ids))
        .values(sealed=None)
    )
    of_these = select(Conversation.customer_id).where(
        Conversation.client_id == client_id, Conversation.id.in_(ids)
    )
    customers = list(
        session.scalars(select(Customer.id).where(_customers_done(client_id, of_these, cutoff)))
    )
    if customers:
        session.execute(
            delete(CustomerIdentity).where(
                CustomerIdentity.client_id == client_id,
                CustomerIdentity.customer_id.in_(customers),
            )
        )
        session.execute(
            update(Customer)
            .where(Customer.client_id == client_id, Customer.id.in_(customers))
            .values(name=None, sealed=None)
        )
    return {
        "conversations": len(ids),
        "messages": sealed_messages,
        "attachments": attachments,
        "survey_comments": comments,
        "customers": len(customers),
    }


# -- attachments' bytes ----------------------------------------------------------------------


def opened_attachment(keyring: Keyring, client_id: int, row: dict[str, object]) -> bytes:
    """A conversation_attachments row's bytes in clear (for the client's export)."""
    box, sealed_with, attachment_id = row["content"], row["sealed_with"], row["id"]
    assert isinstance(box, bytes) and isinstance(sealed_with, str)
    assert isinstance(attachment_id, uuid.UUID)
    return keyring.open_bytes(client_id, attachment_id, sealed_with, box, ATTACHMENT)


def reseal_attachments(
    session: Session, keyring: Keyring, client_id: int, target: str, version: int, batch: int
) -> int:
    """Re-seal up to `batch` of the client's attachments not yet under the rotation's key
    (`target`, the prefix of values it seals); returns how many. One re-sealed leaves the
    condition, so each batch starts from the first left."""
    rows = session.execute(
        select(Attachment.id, Attachment.sealed_with)
        .where(Attachment.client_id == client_id, Attachment.sealed_with != target)
        .order_by(Attachment.id)
        .limit(batch)
    ).all()
    for attachment_id, sealed_with in rows:
        box = session.scalar(
            select(Attachment.content).where(
                Attachment.client_id == client_id, Attachment.id == attachment_id
            )
        )
        if box is None:
            continue
        data = keyring.open_bytes(client_id, attachment_id, sealed_with, box, ATTACHMENT)
        prefix, sealed = keyring.seal_bytes(client_id, version, attachment_id, data, ATTACHMENT)
        session.execute(
            update(Attachment)
            .where(
                Attachment.client_id == client_id,
                Attachment.id == attachment_id,
                Attachment.sealed_with == sealed_with,  # re-sealed meanwhile: leave it
            )
            .values(sealed_with=prefix, content=sealed)
        )
    return len(rows)
