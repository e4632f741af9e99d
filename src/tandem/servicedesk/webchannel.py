"""The service desk on the web: a conversation begun on a brand's contact form or through the
client's own site or app (the JSON channel), and the customer's link to it.

A message written on the web is taken exactly as an email (tandem.servicedesk.inbound): the
customer found or made by their email identity, the conversation, its work item in the
brand's queue. The customer's link (/c/<link>) is 256 random bits, shown once; the row keeps
its SHA-256 (found by it, compared in constant time), and the clear link sealed with the
client's key beside the subject, so that a retried request of the JSON channel (the same
Idempotency-Key) answers with the same link. At the link the customer sees their own
messages and the replies sent to them, never internal notes, and replies: a reply reopens
the conversation, as an email reply does (it is threaded by the conversation's reply token).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.servicedesk import classify, inbound, links, states, threads
from tandem.servicedesk.content import Received
from tandem.servicedesk.customers import IDENTITY
from tandem.servicedesk.inbound import MESSAGE, Rules
from tandem.servicedesk.models import Brand, Conversation, CustomerIdentity, Message
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client

WEB = "web"  # the channel named in the work item
MAX_NAME = 200
MAX_EMAIL = 254
MAX_SUBJECT = 200
MAX_TEXT = 20_000
MAX_EXTERNAL_ID = 200
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The sender of a message written at the link threads by the conversation's reply token, as
# an email to support+<token>@... does; the domain is never used.
_LINK_ADDRESS = "web@link.invalid"


@dataclass(frozen=True)
class Contact:
    """What a customer writes to begin a conversation."""

    name: str
    email: str
    subject: str
    text: str


@dataclass(frozen=True)
class Opened:
    conversation_id: uuid.UUID
    link: str  # the customer's link token: /c/<link>
    created: bool  # False: a retry with the same Idempotency-Key, nothing done


link_hash = links.digest


def _line(value: str, name: str, most: int, errors: list[dict[str, str]]) -> str:
    value = value.strip()
    if not value:
        errors.append({"field": name, "message": "is required"})
    elif len(value) > most:
        errors.append({"field": name, "message": f"at most {most} characters"})
    elif _CONTROL.search(value) or "\n" in value or "\r" in value:
        errors.append({"field": name, "message": "one line, without control characters"})
    return value


def checked(contact: Contact) -> Contact:
    """The contact with its values trimmed; InvalidInput naming each field that is wrong."""
    errors: list[dict[str, str]] = []
    name = _line(contact.name, "name", MAX_NAME, errors)
    email = _line(contact.email, "email", MAX_EMAIL, errors).lower()
    if email and not any(e["field"] == "email" for e in errors) and not _EMAIL.match(email):
        errors.append({"field": "email", "message": "an email address such as ana@example.com"})
    subject = _line(contact.subject, "subject", MAX_SUBJECT, errors)
    text = checked_text(contact.text, "text", errors)
    if errors:
        raise InvalidInput("the message cannot be sent as it is", errors=errors)
    return Contact(name, email, subject, text)


def checked_text(value: str, name: str, errors: list[dict[str, str]]) -> str:
    text = value.replace("\r\n", "\n").strip()
    if not text:
        errors.append({"field": name, "message": "is required"})
    elif len(text) > MAX_TEXT:
        errors.append({"field": name, "message": f"at most {MAX_TEXT} characters"})
    elif _CONTROL.search(text):
        errors.append({"field": name, "message": "must not contain control characters"})
    return text


def _received(sender: str, name: str, subject: str, text: str) -> Received:
    return Received(
        sender=sender,
        sender_name=name,
        subject=subject,
        message_id=None,
        in_reply_to=None,
        references=[],
        answered=[],
        recipients=[],
        new_text=text,
        full_text=text,
        html=None,
        kind=classify.PERSON,
        authentication_results=[],
        size=len(text.encode()),
    )


def brand_by_code(session: Session, code: str) -> Brand | None:
    """The brand whose public pages are at /help/<code>; None for a code no brand (or, as
    codes are each client's own, more than one brand) has."""
    rows = session.scalars(select(Brand).where(Brand.code == code[:60]).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def _fingerprint(brand: Brand, contact: Contact, external_id: str | None) -> str:
    said = [str(brand.id), contact.name, contact.email, contact.subject, contact.text, external_id]
    return hashlib.sha256(json.dumps(said).encode()).hexdigest()


def _key_version(ctx: Context, client_id: int) -> int:
    return int(
        ctx.session.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one()
    )


def _sealed(ctx: Context, conversation: Conversation) -> dict[str, object]:
    if not conversation.sealed:
        return {}
    return dict(
        ctx.keyring.open(conversation.client_id, conversation.id, conversation.sealed, MESSAGE)
    )


def _replayed(ctx: Context, brand: Brand, key: str, fingerprint: str) -> Opened | None:
    found = ctx.session.scalar(
        select(Conversation).where(
            Conversation.client_id == brand.client_id, Conversation.idempotency_key == key
        )
    )
    if found is None:
        return None
    if found.request_hash != fingerprint:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different request",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    return Opened(found.id, str(_sealed(ctx, found).get("link", "")), False)


def open_conversation(
    ctx: Context,
    brand: Brand,
    contact: Contact,
    rules: Rules,
    *,
    verified: bool,
    idempotency_key: str | None = None,
    external_id: str | None = None,
) -> Opened:
    """A conversation with the brand begun on the web, as one use case. `verified`: the
    caller vouches for the customer's address (the client's own site or app); a public form's
    address is only typed, so the conversation is marked as from an unverified sender."""
    contact = checked(contact)
    fingerprint = _fingerprint(brand, contact, external_id)
    if idempotency_key is not None:
        replayed = _replayed(ctx, brand, idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
    link = links.new_link()
    mail = _received(contact.email, contact.name, contact.subject, contact.text)
    try:
        with ctx.session.begin_nested():
            taken = inbound.receive(ctx, brand, mail, [], rules, channel=WEB)
            conversation = ctx.session.get_one(
                Conversation, (brand.client_id, taken.conversation_id)
            )
            conversation.link_hash = link_hash(link)
            conversation.idempotency_key = idempotency_key
            conversation.request_hash = fingerprint if idempotency_key else None
            conversation.external_id = external_id
            conversation.unverified_sender = not verified
            conversation.sealed = ctx.keyring.seal(
                brand.client_id,
                _key_version(ctx, brand.client_id),
                conversation.id,
                {**_sealed(ctx, conversation), "link": link},
                MESSAGE,
            )
            ctx.session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its conversation.
        replayed = _replayed(ctx, brand, idempotency_key, fingerprint) if idempotency_key else None
        if replayed is None:
            raise
        return replayed
    return Opened(conversation.id, link, True)


def at_link(session: Session, link: str) -> tuple[int, uuid.UUID] | None:
    """(client id, conversation id) of the conversation whose link this is; None for any
    other string (looked up before the client is known: no tenant yet)."""
    return links.holder(session, Conversation, Conversation.link_hash, link)


@dataclass(frozen=True)
class Said:
    """A message as the customer sees it at their link."""

    from_customer: bool
    text: str
    at: datetime


@dataclass(frozen=True)
class Thread:
    brand_code: str
    brand_name: str
    greeting: str
    subject: str
    state: str
    messages: list[Said]

    @property
    def closed(self) -> bool:
        return self.state == states.CLOSED


def _conversation(ctx: Context, client_id: int, conversation_id: uuid.UUID) -> Conversation:
    found = ctx.session.get(Conversation, (client_id, conversation_id))
    if found is None or found.link_hash is None:
        raise NotFound("this conversation is not here")
    return found


def thread(ctx: Context, client_id: int, conversation_id: uuid.UUID) -> Thread:
    """The conversation as its customer sees it: their messages and the replies sent to them,
    in order, in clear; no internal notes, no automatic messages."""
    conversation = _conversation(ctx, client_id, conversation_id)
    brand = ctx.session.get_one(Brand, (client_id, conversation.brand_id))
    rows = ctx.session.scalars(
        select(Message)
        .where(
            Message.client_id == client_id,
            Message.conversation_id == conversation.id,
            Message.direction.in_(("in", "out")),
            Message.kind == classify.PERSON,
        )
        .order_by(Message.received_at, Message.id)
    ).all()
    said = [
        Said(
            from_customer=m.direction == "in",
            text=str(
                ctx.keyring.open(client_id, m.id, m.sealed, MESSAGE).get("text", m.text)
                if m.sealed
                else m.text
            ),
            at=m.received_at,
        )
        for m in rows
    ]
    return Thread(
        brand_code=brand.code,
        brand_name=brand.name,
        greeting=brand.greeting,
        subject=str(_sealed(ctx, conversation).get("subject", conversation.subject)),
        state=conversation.state,
        messages=said,
    )


def reply(
    ctx: Context, client_id: int, conversation_id: uuid.UUID, text: str, rules: Rules
) -> None:
    """The customer's reply at their link: taken as their email reply would be (threaded by
    the conversation's reply token), reopening the conversation and making it work again.
    A closed conversation takes no more (409): the customer writes again on the form."""
    errors: list[dict[str, str]] = []
    text = checked_text(text, "text", errors)
    if errors:
        raise InvalidInput("the reply cannot be sent as it is", errors=errors)
    conversation = _conversation(ctx, client_id, conversation_id)
    if conversation.state == states.CLOSED:
        raise Conflict("this conversation is closed: write to us again", state=conversation.state)
    brand = ctx.session.get_one(Brand, (client_id, conversation.brand_id))
    identity = ctx.session.scalar(
        select(CustomerIdentity)
        .where(
            CustomerIdentity.client_id == client_id,
            CustomerIdentity.customer_id == conversation.customer_id,
            CustomerIdentity.kind == "email",
        )
        .limit(1)
    )
    sender = (
        str(ctx.keyring.open(client_id, identity.customer_id, identity.sealed, IDENTITY)["email"])
        if identity is not None
        else ""
    )
    subject = str(_sealed(ctx, conversation).get("subject", conversation.subject))
    address = threads.reply_address(_LINK_ADDRESS, conversation.token)
    taken = inbound.receive(
        ctx,
        brand,
        _received(sender, "", f"Re: {subject}"[:MAX_SUBJECT], text),
        [address],
        rules,
        channel=WEB,
    )
    if taken.conversation_id != conversation.id:  # never: the token names it
        raise Conflict("the reply did not reach its conversation")
