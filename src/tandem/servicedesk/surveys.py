"""Satisfaction surveys: a conversation solved asks its customer how we did.

Made where a conversation is solved (tandem.servicedesk.replies, the one owner of a
conversation's state moves, calls `solved` in the same transaction), sent by the worker
(`send_due`): the mail names the public address (a setting the worker holds, as use cases
hold no settings), and a survey of a conversation reopened before it went out is not sent.
The mail goes through the service desk's outbox (tandem.servicedesk.outgoing) from the
brand's identity with its signature, threaded into the conversation; a conversation begun on
the web also shows it at the customer's link (/c/<link>/survey).

The survey's link (/s/<token>) is 256 random bits, in the mail only: the row keeps its
SHA-256, found by it and compared in constant time (as the customer's link,
tandem.servicedesk.webchannel). Opening it shows the question and records nothing (link
scanners open links); only a posted answer counts, once: a second post is told "already
answered" and changes nothing. A survey expires `survey_days` after it was sent.

One answer per conversation: solving again after an answer asks no more; solving again
before one withdraws the survey sent (its link says so) and makes a new one, so at most one
survey of a conversation stands (a unique index), and each solve without an answer yet
counts as sent once. The agent credited is the one who wrote the last reply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from tandem.core.clock import Clock
from tandem.core.db import Base, UTCDateTime, new_id, transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.servicedesk import links, satisfaction, states
from tandem.servicedesk.inbound import MESSAGE
from tandem.servicedesk.models import Brand, Conversation, CustomerIdentity, Message, OutgoingMail
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.vault.masking import free_text_for_storage
from tandem.vault.sealing import Keyring
from tandem.workforce.models import Agent

DUE, SENT, ANSWERED, WITHDRAWN = "due", "sent", "answered", "withdrawn"
SURVEY = "survey"  # the part a survey's sealed comment is bound to
AUTHOR = "system:satisfaction"
# What staff see of the survey's mail in the conversation (its clear text, link included,
# is sealed for the sender): the link is the customer's, nobody else answers for them.
WITHHELD = "[satisfaction survey sent to the customer: link withheld]"


class Survey(Base):
    """A conversation's satisfaction survey (see the module's description). `comment` is
    masked (free text); its clear value is sealed in `sealed`."""

    __tablename__ = "conversation_surveys"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID]
    brand_id: Mapped[uuid.UUID]
    # The agent who wrote the last reply (credited with the answer); None: nobody did.
    agent_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(10), default=DUE)
    solved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[uuid.UUID | None]  # the survey's mail (None: shown on the web only)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[str | None] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(Text)
    sealed: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "conversation_id"], ["conversations.client_id", "conversations.id"]
        ),
        ForeignKeyConstraint(["client_id", "brand_id"], ["brands.client_id", "brands.id"]),
        ForeignKeyConstraint(
            ["client_id", "message_id"],
            ["conversation_messages.client_id", "conversation_messages.id"],
        ),
        # One standing survey per conversation: one answer per conversation.
        Index(
            "uq_conversation_surveys_standing",
            "client_id",
            "conversation_id",
            unique=True,
            postgresql_where=text("state <> 'withdrawn'"),
            sqlite_where=text("state <> 'withdrawn'"),
        ),
        Index("ix_conversation_surveys_token_hash", "token_hash"),
        Index(
            "ix_conversation_surveys_due",
            "solved_at",
            postgresql_where=text("state = 'due'"),
            sqlite_where=text("state = 'due'"),
        ),
        Index("ix_conversation_surveys_sent", "client_id", "sent_at"),
        CheckConstraint("state IN ('due', 'sent', 'answered', 'withdrawn')", name="survey_state"),
        CheckConstraint("rating IN ('good', 'bad')", name="survey_rating"),
    )


token_hash = links.digest


# -- made where a conversation is solved ------------------------------------------------


def _credited(ctx: Context, conversation: Conversation) -> uuid.UUID | None:
    """The agent who wrote the conversation's last reply."""
    author = ctx.session.scalar(
        select(Message.author)
        .where(
            Message.client_id == conversation.client_id,
            Message.conversation_id == conversation.id,
            Message.direction == "out",
            Message.author.like("agent:%"),
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )
    try:
        return uuid.UUID(author.removeprefix("agent:")) if author else None
    except ValueError:
        return None


def solved(ctx: Context, conversation: Conversation) -> Survey | None:
    """The survey of this solve (see the module's description), in the solve's transaction;
    None when the conversation was already answered for."""
    standing = ctx.session.scalar(
        select(Survey)
        .where(
            Survey.client_id == conversation.client_id,
            Survey.conversation_id == conversation.id,
            Survey.state != WITHDRAWN,
        )
        .with_for_update()
    )
    agent_id = _credited(ctx, conversation)
    if standing is not None and standing.state == ANSWERED:
        return None
    if standing is not None and standing.state == DUE:  # never sent: this solve's now
        standing.agent_id, standing.solved_at = agent_id, ctx.now
        ctx.session.flush()
        return standing
    if standing is not None:
        standing.state = WITHDRAWN
        ctx.session.flush()
    survey = Survey(
        client_id=conversation.client_id,
        conversation_id=conversation.id,
        brand_id=conversation.brand_id,
        agent_id=agent_id,
        state=DUE,
        solved_at=ctx.now,
    )
    ctx.session.add(survey)
    ctx.session.flush()
    return survey


# -- sent by the worker ----------------------------------------------------------------


def survey_text(brand: Brand, url: str, days: int) -> str:
    """The survey mail's text (the outbox adds the brand's signature)."""
    return (
        f"Your conversation with {brand.name} is solved. How did we do?\n\n"
        f"Tell us with one click, good or bad, and a word if you like:\n{url}\n\n"
        f"The link works for {days} days. If something is still not right, just reply to "
        "this mail and the conversation opens again."
    )


def send_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    keyring: Keyring,
    *,
    public_url: str,
    days: int,
    limit: int = 100,
) -> int:
    """Send the surveys due (their conversation still solved or closed) through the outbox,
    each in its own transaction; returns how many were sent."""
    done = 0
    while done < limit:
        with transaction(sessions) as session:
            now = clock.now()
            survey = session.scalar(
                select(Survey)
                .join(
                    Conversation,
                    (Conversation.client_id == Survey.client_id)
                    & (Conversation.id == Survey.conversation_id),
                )
                .where(
                    Survey.state == DUE,
                    Conversation.state.in_((states.SOLVED, states.CLOSED)),
                )
                .order_by(Survey.solved_at)
                .limit(1)
                .with_for_update(skip_locked=True, of=Survey)
            )
            if survey is None:
                break
            _send_one(session, keyring, survey, now, public_url, days)
            done += 1
    return done


def _send_one(
    session: Session,
    keyring: Keyring,
    survey: Survey,
    now: datetime,
    public_url: str,
    days: int,
) -> None:
    client_id = survey.client_id
    conversation = session.get_one(Conversation, (client_id, survey.conversation_id))
    brand = session.get_one(Brand, (client_id, conversation.brand_id))
    token = links.new_link()
    survey.token_hash = token_hash(token)
    survey.state, survey.sent_at = SENT, now
    survey.expires_at = now + timedelta(days=days)
    has_address = (
        session.scalar(
            select(CustomerIdentity.lookup)
            .where(
                CustomerIdentity.client_id == client_id,
                CustomerIdentity.customer_id == conversation.customer_id,
                CustomerIdentity.kind == "email",
            )
            .limit(1)
        )
        is not None
    )
    if not has_address:
        if conversation.link_hash is None:  # nowhere to ask: never sent
            survey.state, survey.sent_at, survey.expires_at = WITHDRAWN, None, None
        session.flush()
        return
    parent = session.scalar(
        select(Message)
        .where(
            Message.client_id == client_id,
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            Message.message_id.is_not(None),
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )
    version = int(
        session.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one()
    )
    message_uuid = new_id()
    body = survey_text(brand, f"{public_url.rstrip('/')}/s/{token}", days)
    domain = brand.reply_from_address.rpartition("@")[2] or "tandem.localhost"
    session.add(
        Message(
            client_id=client_id,
            id=message_uuid,
            conversation_id=conversation.id,
            direction="out",
            kind="auto_reply",  # not a person's answer: not shown as one at the customer's link
            message_id=f"{message_uuid.hex}@{domain}",
            in_reply_to=parent.message_id if parent is not None else None,
            references=(
                [*parent.references, parent.message_id][-20:]
                if parent is not None and parent.message_id
                else []
            ),
            sender=brand.reply_from_address,
            text=WITHHELD,
            sealed=keyring.seal(
                client_id,
                version,
                message_uuid,
                {"text": body, "full_text": body, "html": None},
                MESSAGE,
            ),
            received_at=now,
            author=AUTHOR,
        )
    )
    session.flush()
    session.add(
        OutgoingMail(
            client_id=client_id,
            conversation_id=conversation.id,
            message_id=message_uuid,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    survey.message_id = message_uuid
    session.flush()


# -- the customer's answer ---------------------------------------------------------------


def at_token(session: Session, token: str) -> tuple[int, uuid.UUID] | None:
    """(client id, survey id) of the survey whose link this is; None for any other string
    (looked up before the client is known: no tenant yet)."""
    return links.holder(session, Survey, Survey.token_hash, token)


def standing_at_link(
    session: Session, client_id: int, conversation_id: uuid.UUID
) -> uuid.UUID | None:
    """The survey sent (or answered) for a conversation, asked at the customer's own link."""
    return session.scalar(
        select(Survey.id).where(
            Survey.client_id == client_id,
            Survey.conversation_id == conversation_id,
            Survey.state.in_((SENT, ANSWERED)),
        )
    )


@dataclass(frozen=True)
class Question:
    """A survey as its customer sees it."""

    brand_name: str
    subject: str
    state: str  # sent (open to answer), answered, withdrawn, expired
    rating: str | None

    @property
    def open(self) -> bool:
        return self.state == SENT


def _survey(ctx: Context, client_id: int, survey_id: uuid.UUID, *, lock: bool = False) -> Survey:
    query = select(Survey).where(Survey.client_id == client_id, Survey.id == survey_id)
    found = ctx.session.scalar(query.with_for_update() if lock else query)
    if found is None or found.sent_at is None:
        raise NotFound("there is no survey at this link")
    return found


def _state(survey: Survey, now: datetime) -> str:
    if survey.state == SENT and survey.expires_at is not None and now >= survey.expires_at:
        return "expired"
    return survey.state


def question(ctx: Context, client_id: int, survey_id: uuid.UUID) -> Question:
    """The survey's question (records nothing: opening a link is not answering)."""
    survey = _survey(ctx, client_id, survey_id)
    conversation = ctx.session.get_one(Conversation, (client_id, survey.conversation_id))
    brand = ctx.session.get_one(Brand, (client_id, survey.brand_id))
    opened = (
        ctx.keyring.open(client_id, conversation.id, conversation.sealed, MESSAGE)
        if conversation.sealed
        else {}
    )
    return Question(
        brand_name=brand.name,
        subject=str(opened.get("subject", conversation.subject)),
        state=_state(survey, ctx.now),
        rating=survey.rating,
    )


def answer(
    ctx: Context, client_id: int, survey_id: uuid.UUID, rating: str, comment: str = ""
) -> None:
    """Record the customer's answer, once. InvalidInput naming the field; Conflict when it
    was answered already (nothing changed), withdrawn or expired."""
    rating, said = satisfaction.normalized(rating, comment)
    errors = satisfaction.answer_errors(rating, said)
    if errors:
        raise InvalidInput("the answer cannot be taken as it is", errors=errors)
    survey = _survey(ctx, client_id, survey_id, lock=True)
    state = _state(survey, ctx.now)
    if state == ANSWERED:
        raise Conflict("this survey is already answered: thank you", state=state)
    if state != SENT:
        raise Conflict(f"this survey is {state}: it takes no answer", state=state)
    masked = sealed = None
    if said is not None:
        masked, kept = free_text_for_storage(said)
        version = int(
            ctx.session.execute(
                select(Client.key_version).where(Client.id == client_id)
            ).scalar_one()
        )
        sealed = ctx.keyring.seal(client_id, version, survey.id, {"comment": kept}, SURVEY)
    taken = ctx.session.execute(
        update(Survey)
        .where(Survey.client_id == client_id, Survey.id == survey.id, Survey.state == SENT)
        .values(state=ANSWERED, answered_at=ctx.now, rating=rating, comment=masked, sealed=sealed)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this survey is already answered: thank you", state=ANSWERED)


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    client_id: int | None
    figures: satisfaction.Figures


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    total: satisfaction.Figures
    brands: list[Line]
    agents: list[Line]
    weeks: list[Line]


def report(
    ctx: Context, since: datetime, until: datetime, brand_id: uuid.UUID | None = None
) -> Report:
    """Satisfaction per brand, per agent credited and per ISO week of the surveys sent in
    [since, until), of the caller's client (provider staff: every client's)."""
    if until <= since:
        raise InvalidInput(
            "the period ends before it begins",
            errors=[{"field": "until", "message": "after since"}],
        )
    query = select(
        Survey.client_id, Survey.brand_id, Survey.agent_id, Survey.sent_at, Survey.rating
    ).where(
        ctx.principal.client_condition(Survey.client_id),
        Survey.state.in_((SENT, ANSWERED)),
        Survey.sent_at >= since,
        Survey.sent_at < until,
    )
    if brand_id is not None:
        query = query.where(Survey.brand_id == brand_id)
    counted = [
        satisfaction.Counted(r.client_id, r.brand_id, r.agent_id, r.sent_at, r.rating)
        for r in ctx.session.execute(query)
    ]
    tallied = satisfaction.tally(counted)
    brand_names = {
        (b.client_id, b.id): b.name
        for b in ctx.session.execute(
            select(Brand.client_id, Brand.id, Brand.name).where(
                ctx.principal.client_condition(Brand.client_id)
            )
        )
    }
    agent_ids = [a for a in tallied.by_agent if a is not None]
    agent_names = {
        row.id: row.name
        for row in ctx.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))
    }
    brands = sorted(
        (
            Line(str(bid), brand_names.get((cid, bid), str(bid)), cid, figures)
            for (cid, bid), figures in tallied.by_brand.items()
        ),
        key=lambda line: line.label,
    )
    agents = sorted(
        (
            Line(
                str(aid) if aid else "",
                agent_names.get(aid, "(unknown)") if aid else "(no reply)",
                None,
                figures,
            )
            for aid, figures in tallied.by_agent.items()
        ),
        key=lambda line: line.label,
    )
    weeks = [Line(w, w, None, f) for w, f in sorted(tallied.by_week.items())]
    return Report(since, until, tallied.total, brands, agents, weeks)
