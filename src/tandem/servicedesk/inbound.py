"""A message in, as one use case (one transaction): threaded into its conversation or a new
one, its customer found or made, stored masked and sealed with its attachments, and the
conversation made work in the brand's queue while it waits for the provider's answer."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tandem.core.db import new_id
from tandem.core.errors import Conflict, InvalidInput
from tandem.dispatch import service as dispatch
from tandem.intake.service import submit_item
from tandem.servicedesk import classify, levels, states, threads
from tandem.servicedesk.brands import item_payload
from tandem.servicedesk.content import Received
from tandem.servicedesk.customers import customer_for, key_version, masked_identity
from tandem.servicedesk.models import Attachment, Brand, Conversation, Message
from tandem.tenancy.context import Context
from tandem.vault.masking import free_text_for_storage
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem

MESSAGE = "message"  # the part a message's sealed values are bound to
ATTACHMENT = "attachment"
_DONE = (State.DELIVERED.value, State.CANCELLED.value)


@dataclass(frozen=True)
class Rules:
    """How mail is taken: the relay whose Authentication-Results count (None: any), the
    largest attachment kept, the SLA's at-risk fraction for the work items made, and how
    long a customer's answer waits for the agent who last answered them (None: it goes to
    the queue at once)."""

    authserv_id: str | None = None
    max_attachment_bytes: int = 10 * 1024 * 1024
    at_risk_fraction: float = 0.75
    back_to_agent: timedelta | None = None

    @classmethod
    def of(cls, settings: Any) -> Rules:
        """The rules the settings (tandem.core.config.Settings) say."""
        minutes = settings.desk_back_to_agent_minutes
        return cls(
            authserv_id=settings.smtp_authserv_id or None,
            max_attachment_bytes=settings.smtp_max_attachment_bytes,
            at_risk_fraction=settings.at_risk_fraction,
            back_to_agent=timedelta(minutes=minutes) if minutes else None,
        )


@dataclass(frozen=True)
class Scanned:
    """A message's free text scanned for personal data (masked for agents, kept to be
    sealed): the scans are most of the CPU a message costs, and need no database, so the
    SMTP server makes them before the message waits for its transaction."""

    subject: tuple[str, str]
    new_text: tuple[str, str]
    full_text_kept: str
    html_kept: str | None


def scan(mail: Received) -> Scanned:
    new_text = free_text_for_storage(mail.new_text)
    # The full text is often the new text itself (nothing quoted, no signature cut).
    full = new_text if mail.full_text == mail.new_text else free_text_for_storage(mail.full_text)
    return Scanned(
        subject=free_text_for_storage(mail.subject),
        new_text=new_text,
        full_text_kept=full[1],
        html_kept=free_text_for_storage(mail.html)[1] if mail.html else None,
    )


@dataclass(frozen=True)
class Taken:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    new_conversation: bool
    work_item_id: uuid.UUID | None  # the conversation's open work item, if it waits
    duplicate: bool = False  # the same message came again (a relay's retry): nothing done


def receive(
    ctx: Context,
    brand: Brand,
    mail: Received,
    envelope_recipients: list[str],
    rules: Rules,
    channel: str = "email",
    scanned: Scanned | None = None,
) -> Taken:
    """Take `mail` for `brand` (the caller found it by an envelope recipient; or a message
    written on the web, `channel` "web": tandem.servicedesk.webchannel). `scanned`: its
    text already scanned (scan(mail)), else it is scanned here."""
    session, client_id = ctx.session, brand.client_id
    if mail.message_id is not None:
        seen = session.execute(
            select(Message.id, Message.conversation_id)
            .join(
                Conversation,
                (Conversation.client_id == Message.client_id)
                & (Conversation.id == Message.conversation_id),
            )
            .where(
                Message.client_id == client_id,
                Message.message_id == mail.message_id,
                Message.direction == "in",
                Conversation.brand_id == brand.id,
            )
            .limit(1)
        ).first()
        if seen is not None:
            before = session.get_one(Conversation, (client_id, seen.conversation_id))
            return Taken(seen.conversation_id, seen.id, False, before.work_item_id, True)
    verdict = classify.authentication(mail.authentication_results, rules.authserv_id)
    conversation = _thread(ctx, brand, mail, envelope_recipients, verdict)
    person = mail.kind == classify.PERSON
    if (
        conversation is not None
        and person
        and (
            states.after_customer_message(conversation.state) is None
            or conversation.sealed is None  # its personal data purged (retention)
        )
    ):
        conversation = None  # closed for good: the customer's reply starts a new one
    scanned = scan(mail) if scanned is None else scanned
    if conversation is None:
        # A new conversation: its state, clocks and work settled before its row is written
        # (one INSERT, no UPDATE after), then its first message.
        customer = customer_for(ctx, client_id, "email", mail.sender, mail.sender_name)
        subject_masked, subject_kept = scanned.subject
        conversation_id = new_id()
        conversation = Conversation(
            client_id=client_id,
            id=conversation_id,
            brand_id=brand.id,
            customer_id=customer.id,
            subject=subject_masked,
            sealed=seal_values(ctx, client_id, conversation_id, {"subject": subject_kept}),
            # An automatic message nobody answers is kept, not made work.
            state=states.NEW if person else states.CLOSED,
            pending_on=None,
            tags=[] if person else [mail.kind],
            token=threads.new_token(),
            unverified_sender=verdict == classify.FAIL,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        if person:
            levels.start(ctx, brand, conversation)
            _moved_by_customer(ctx, brand, conversation)
            if conversation.state in states.WAITING_FOR_PROVIDER:
                make_work(ctx, brand, conversation, rules, channel, subject=subject_kept)
        session.add(conversation)
        session.flush()
        message = _store(ctx, conversation, mail, verdict, rules, scanned)
        session.flush()
        return Taken(conversation.id, message.id, True, conversation.work_item_id)
    message = _store(ctx, conversation, mail, verdict, rules, scanned)
    if person:
        _moved_by_customer(ctx, brand, conversation)
        if conversation.state in states.WAITING_FOR_PROVIDER:
            make_work(ctx, brand, conversation, rules, channel)
    session.flush()
    return Taken(conversation.id, message.id, False, conversation.work_item_id)


def _moved_by_customer(ctx: Context, brand: Brand, conversation: Conversation) -> None:
    """The conversation after a person's message: waiting for the provider again, its
    resolution clock following."""
    conversation.state = states.after_customer_message(conversation.state) or states.OPEN
    conversation.pending_on = None
    conversation.updated_at = ctx.now
    levels.follow(ctx, brand, conversation)


def _thread(
    ctx: Context, brand: Brand, mail: Received, envelope_recipients: list[str], verdict: str
) -> Conversation | None:
    """The brand's conversation `mail` continues: by the reply token of the address it was
    sent to, else (for a sender not failing authentication) by the Message-IDs it answers.
    A sender failing authentication joins only by the token, a secret only the customer's
    mailbox received: their headers name our messages, which anyone may have seen."""
    session = ctx.session
    token = threads.reply_token([*envelope_recipients, *mail.recipients])
    if token is not None:
        found = session.scalar(
            select(Conversation).where(
                Conversation.client_id == brand.client_id,
                Conversation.token == token,
                Conversation.brand_id == brand.id,
            )
        )
        if found is not None:
            return found
    if verdict == classify.FAIL or not mail.answered:
        return None
    rows = session.execute(
        select(Message.message_id, Message.conversation_id)
        .join(
            Conversation,
            (Conversation.client_id == Message.client_id)
            & (Conversation.id == Message.conversation_id),
        )
        .where(
            Message.client_id == brand.client_id,
            Message.message_id.in_(mail.answered),
            Conversation.brand_id == brand.id,
        )
    ).all()
    by_id = {row.message_id: row.conversation_id for row in rows}
    for answered in mail.answered:  # the most telling first: the parent, then newest up
        if answered in by_id:
            return session.get(Conversation, (brand.client_id, by_id[answered]))
    return None


def seal_values(ctx: Context, client_id: int, bound: uuid.UUID, values: dict[str, object]) -> str:
    """`values` sealed with the client's current key, bound to `bound` (a message's or a
    conversation's id)."""
    version = key_version(ctx.session, client_id)
    return ctx.keyring.seal(client_id, version, bound, values, MESSAGE)


def _store(
    ctx: Context,
    conversation: Conversation,
    mail: Received,
    verdict: str,
    rules: Rules,
    scanned: Scanned,
) -> Message:
    client_id = conversation.client_id
    message_id = new_id()
    masked, kept = scanned.new_text
    full, html = scanned.full_text_kept, scanned.html_kept
    omitted = [f for f in mail.files if len(f.data) > rules.max_attachment_bytes]
    if omitted:
        masked += "".join(
            f"\n[attachment {f.filename} not kept: over {rules.max_attachment_bytes} bytes]"
            for f in omitted
        )
    message = Message(
        client_id=client_id,
        id=message_id,
        conversation_id=conversation.id,
        direction="in",
        kind=mail.kind,
        message_id=mail.message_id[:255] if mail.message_id else None,
        in_reply_to=mail.in_reply_to[:255] if mail.in_reply_to else None,
        references=mail.references[-20:],
        sender=masked_identity("email", mail.sender),
        text=masked,
        sealed=seal_values(
            ctx,
            client_id,
            message_id,
            {"sender": mail.sender, "text": kept, "full_text": full, "html": html},
        ),
        has_html=mail.html is not None,
        authentication=verdict,
        size=mail.size,
        received_at=ctx.now,
    )
    ctx.session.add(message)
    ctx.session.flush()
    version = key_version(ctx.session, client_id)
    for file in mail.files:
        if len(file.data) > rules.max_attachment_bytes:
            continue
        attachment_id = new_id()
        sealed_with, box = ctx.keyring.seal_bytes(
            client_id, version, attachment_id, file.data, ATTACHMENT
        )
        ctx.session.add(
            Attachment(
                client_id=client_id,
                id=attachment_id,
                message_id=message_id,
                filename=file.filename,
                media_type=file.media_type,
                size=len(file.data),
                sha256=hashlib.sha256(file.data).hexdigest(),
                sealed_with=sealed_with,
                content=box,
            )
        )
    return message


def make_work(
    ctx: Context,
    brand: Brand,
    conversation: Conversation,
    rules: Rules,
    channel: str = "email",
    subject: str | None = None,
) -> None:
    """One open work item per conversation waiting for an answer: made through intake (the
    brand's process, its SLA, its queue) unless the last one is still open. `subject`: the
    conversation's subject in clear, when the caller has it (else opened from its seal)."""
    if conversation.work_item_id is not None:
        state = ctx.session.scalar(
            select(WorkItem.state).where(
                WorkItem.client_id == conversation.client_id,
                WorkItem.id == conversation.work_item_id,
            )
        )
        if state is not None and state not in _DONE:
            return
    if subject is None:
        subject = (
            ctx.keyring.open(
                conversation.client_id, conversation.id, conversation.sealed or "", MESSAGE
            )["subject"]
            if conversation.sealed
            else conversation.subject
        )
    item, _ = submit_item(
        ctx,
        brand.process_id,
        item_payload(conversation.id, brand, subject, channel),
        at_risk_fraction=rules.at_risk_fraction,
        external_ref=f"conversation:{conversation.id}",
        priority=conversation.priority,
        due=levels.response_due(ctx, brand, conversation, rules.at_risk_fraction),
    )
    had_work = conversation.work_item_id is not None  # else no reply yet: replies need work
    conversation.work_item_id = item.id
    if rules.back_to_agent is not None and had_work:
        _back_to_last_agent(ctx, conversation, item.id, rules.back_to_agent)


def _back_to_last_agent(
    ctx: Context, conversation: Conversation, item_id: uuid.UUID, wait: timedelta
) -> None:
    """The customer's answer goes first to the agent who last answered them, if they may
    take it now (on shift, cleared, skilled: dispatch decides): leased to them for `wait`,
    after which, unopened, it returns to the queue as any lapsed lease does. Otherwise it
    stays in the queue."""
    author = ctx.session.scalar(
        select(Message.author)
        .where(
            Message.client_id == conversation.client_id,
            Message.conversation_id == conversation.id,
            Message.direction == "out",
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )
    if not author or not author.startswith("agent:"):
        return
    try:
        agent_id = uuid.UUID(author.removeprefix("agent:"))
        with ctx.session.begin_nested():
            dispatch.assign(
                ctx,
                item_id,
                agent_id,
                "the customer answered the agent who last wrote to them",
                expires=ctx.now + wait,
            )
    except (ValueError, InvalidInput, Conflict):
        return  # not theirs to take now: the queue's
