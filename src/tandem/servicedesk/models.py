"""The service desk's tables: brands and their support addresses, customers and their
identities, conversations, their messages and attachments. Every one is a tenant table
(client_id first in its key); personal data is masked in the rows and sealed with the
client's key (tandem.vault.sealing), as work items' personal fields are."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id

CONVERSATION_STATES = ("new", "open", "pending", "solved", "closed")
PENDING_ON = ("customer", "third_party")
DIRECTIONS = ("in", "out", "note")
# What sent a message in: a person, an auto-responder (out of office, "we got your mail"),
# or a mail system telling of a failed delivery (a bounce, a DSN).
MESSAGE_KINDS = ("person", "auto_reply", "bounce")
IDENTITY_KINDS = ("email", "phone")


class Brand(Base):
    """A brand of a client that its customers write to. Its conversations waiting for an
    answer are work items of its service process (a process of kind "conversation")."""

    __tablename__ = "brands"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    process_id: Mapped[uuid.UUID]
    reply_from_name: Mapped[str] = mapped_column(String(200))
    reply_from_address: Mapped[str] = mapped_column(String(254))
    signature: Mapped[str] = mapped_column(Text, default="")
    greeting: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Service levels per priority (tandem.servicedesk.sla); None: the process's SLA.
    sla: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    # A tandem.sla.calendar.BusinessCalendar (to_dict); None: the client's calendar.
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["client_id"], ["clients.id"]),
        ForeignKeyConstraint(["client_id", "process_id"], ["processes.client_id", "processes.id"]),
        UniqueConstraint("client_id", "code"),
    )


class BrandAddress(Base):
    """A support address mail for the brand is taken at (lower case). One brand of one
    client has an address: the use case that adds one refuses an address already taken (no
    unique key across clients: every key of a tenant table starts with the client)."""

    __tablename__ = "brand_addresses"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    brand_id: Mapped[uuid.UUID]

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "brand_id"], ["brands.client_id", "brands.id"]),
        Index("ix_brand_addresses_address", "address"),
    )


class Customer(Base):
    """An end customer of a client (never shared between clients). `name` is masked; its
    clear value is in `sealed`."""

    __tablename__ = "customers"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (ForeignKeyConstraint(["client_id"], ["clients.id"]),)


class CustomerIdentity(Base):
    """How a customer is known on a channel: an email address or a phone number, found by
    `lookup` (a keyed hash of the normalized value, so the clear value is never a key);
    `masked` is what staff see, `sealed` the clear value."""

    __tablename__ = "customer_identities"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[uuid.UUID]
    masked: Mapped[str] = mapped_column(String(254))
    sealed: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "customer_id"], ["customers.client_id", "customers.id"]),
        CheckConstraint("kind IN ('email', 'phone')", name="kind"),
    )


class Conversation(Base):
    """A conversation between a brand and a customer. While it waits for the provider's
    answer, `work_item_id` names its open work item in the brand's queue."""

    __tablename__ = "conversations"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    brand_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    subject: Mapped[str] = mapped_column(Text)  # masked (free text); clear in `sealed`
    sealed: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="new")
    pending_on: Mapped[str | None] = mapped_column(String(12))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The secret in the reply address (support+<token>@...): threads a reply whose headers
    # were lost, and is the only way a sender failing authentication joins a conversation.
    token: Mapped[str] = mapped_column(String(32))
    # The first message's sender failed authentication (SPF, DKIM, DMARC): it may not be who
    # it claims to be.
    unverified_sender: Mapped[bool] = mapped_column(default=False)
    work_item_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Begun on the web (the brand's contact form, the client's own site or app): the SHA-256
    # of the customer's link (/c/<link>), which is random and shown once (sealed beside the
    # subject, for an idempotent retry's answer); None for a conversation begun by email.
    link_hash: Mapped[str | None] = mapped_column(String(64))
    # The client's Idempotency-Key for the JSON channel, the request's fingerprint, and the
    # client's own reference for the conversation.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    # The priority of the conversation's work items from now on (a macro sets it); None: the
    # process's.
    priority: Mapped[int | None]
    # The resolution clock of the brand's service levels (tandem.servicedesk.sla): due, or
    # what remained when it paused (waiting on the customer), and when it was solved.
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_paused_remaining_s: Mapped[float | None]
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "brand_id"], ["brands.client_id", "brands.id"]),
        ForeignKeyConstraint(["client_id", "customer_id"], ["customers.client_id", "customers.id"]),
        ForeignKeyConstraint(
            ["client_id", "work_item_id"], ["work_items.client_id", "work_items.id"]
        ),
        UniqueConstraint("client_id", "token"),
        Index(
            "uq_conversations_client_id_idempotency_key",
            "client_id",
            "idempotency_key",
            unique=True,
        ),
        Index("ix_conversations_customer", "client_id", "customer_id"),
        Index("ix_conversations_link_hash", "link_hash"),
        CheckConstraint(
            "state IN ('new', 'open', 'pending', 'solved', 'closed')", name="conversation_state"
        ),
        CheckConstraint("pending_on IN ('customer', 'third_party')", name="pending_on"),
    )


class Message(Base):
    """A message of a conversation: in (from the customer), out (to them) or an internal
    note. `text` is the new text (quoted history and signature cut), masked; `sealed` holds
    the clear values: the sender's address, the new text, the whole text, the sanitized HTML."""

    __tablename__ = "conversation_messages"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID]
    direction: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(12), default="person")
    # The RFC 5322 Message-ID (without <>), which replies name in In-Reply-To/References.
    message_id: Mapped[str | None] = mapped_column(String(255))
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sender: Mapped[str | None] = mapped_column(String(254))  # masked
    text: Mapped[str] = mapped_column(Text)
    sealed: Mapped[str | None] = mapped_column(Text)
    has_html: Mapped[bool] = mapped_column(default=False)
    # What the receiving relay said of the sender: pass, fail or none (no verdict).
    authentication: Mapped[str] = mapped_column(String(8), default="none")
    size: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who wrote a reply or a note (tandem.tenancy.principal.Principal.actor); None: mail in.
    author: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "conversation_id"], ["conversations.client_id", "conversations.id"]
        ),
        Index("ix_conversation_messages_conversation", "client_id", "conversation_id"),
        Index("ix_conversation_messages_message_id", "client_id", "message_id"),
        CheckConstraint("direction IN ('in', 'out', 'note')", name="direction"),
        CheckConstraint("kind IN ('person', 'auto_reply', 'bounce')", name="message_kind"),
    )


class Attachment(Base):
    """A file that came with a message, its bytes sealed with the client's key (as
    documents' are: tandem.vault.sealing.Keyring.seal_bytes, part "attachment")."""

    __tablename__ = "conversation_attachments"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    sealed_with: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
        ),
        Index("ix_conversation_attachments_message", "client_id", "message_id"),
    )


class OutgoingMail(Base):
    """The outbox of mail to customers: one row per outgoing message, written in the
    transaction that stores the reply; the worker sends it through the relay
    (tandem.servicedesk.outgoing), one at a time under a lease (`next_attempt_at` pushed out
    while it is sent). queued: waiting (no relay configured, or a retry due later); sent;
    failed: the relay refused it for good, or every attempt failed."""

    __tablename__ = "conversation_mail_out"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID]
    message_id: Mapped[uuid.UUID]  # the outgoing Message (its text, its Message-ID)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "conversation_id"], ["conversations.client_id", "conversations.id"]
        ),
        ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
        ),
        UniqueConstraint("client_id", "message_id"),
        Index(
            "ix_conversation_mail_out_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="mail_status"),
    )


class MailAttempt(Base):
    """Every try to hand an outgoing mail to the relay, with what the relay answered."""

    __tablename__ = "conversation_mail_attempts"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    smtp_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[float]

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "mail_id"],
            ["conversation_mail_out.client_id", "conversation_mail_out.id"],
        ),
    )


class Macro(Base):
    """A ready answer of a brand, chosen on the agent's desk: its text (which may hold the
    variables of tandem.servicedesk.placeholders) goes into the composer, and on sending
    its actions apply: tags added to the conversation, the state it is left in, and the
    priority of the conversation's work from then on."""

    __tablename__ = "macros"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    brand_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    add_tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The state a reply with it leaves: pending or solved; None: the agent's choice.
    then_state: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "brand_id"], ["brands.client_id", "brands.id"]),
        UniqueConstraint("client_id", "brand_id", "title"),
        CheckConstraint("then_state IN ('pending', 'solved')", name="macro_then"),
    )
