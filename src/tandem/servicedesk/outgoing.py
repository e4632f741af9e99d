"""Sending the service desk's mail: the outbox (tandem.servicedesk.models.OutgoingMail) handed
to the configured SMTP relay under a lease, as webhooks are sent (tandem.delivery.webhooks):
up to TAKEN due mails taken in one transaction (their lease in one UPDATE, what writing them
needs read a table at a time), their next try pushed past the sends' timeouts meanwhile, then
sent one by one over one connection, each attempt recorded as it ends (a sent one in a single
statement on PostgreSQL), so a crash sends again at most the mail in flight; retried with
backoff, every attempt recorded. No transaction is held open while the relay answers. With
no relay configured nothing is taken: the mail stays queued, and its conversation shows it
waiting.

A reply goes from the brand's reply-from identity to the customer's address (opened from its
sealed value: the system uses it, no person sees it), with the brand's signature, a
Message-ID of our own, In-Reply-To and References naming the customer's message, and the
conversation's reply-token address as Reply-To. It carries our X-Loop marker (mail that comes
back with it is refused as a loop, tandem.servicedesk.classify.loop_of); it is a person's
answer, so it is not marked Auto-Submitted (RFC 3834: an auto-responder must answer it)."""

from __future__ import annotations

import contextlib
import email.policy
import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import dkim
from sqlalchemy import insert, literal, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import is_postgres, transaction
from tandem.delivery.webhooks import backoff
from tandem.servicedesk import threads
from tandem.servicedesk.content import POLICY
from tandem.servicedesk.customers import IDENTITY
from tandem.servicedesk.inbound import MESSAGE
from tandem.servicedesk.models import (
    Brand,
    BrandAddress,
    Conversation,
    CustomerIdentity,
    MailAttempt,
    Message,
    OutgoingMail,
)
from tandem.vault.sealing import Keyring

QUEUED, SENT, FAILED = "queued", "sent", "failed"
TAKEN = 20  # due mails taken (and leased) in one transaction by a send pass


@dataclass(frozen=True)
class Dkim:
    """DKIM signing keys by domain (the PEM private keys of TANDEM_DKIM_KEYS_DIR)."""

    selector: str
    keys: dict[str, bytes]

    def sign(self, message: bytes, sender: str) -> bytes:
        """`message` with a DKIM-Signature of the sender's domain first, if it has a key."""
        domain = sender.rpartition("@")[2].lower()
        key = self.keys.get(domain)
        if key is None:
            return message
        signature = dkim.sign(
            message,
            self.selector.encode(),
            domain.encode(),
            key,
            include_headers=SIGNED_HEADERS,
        )
        return bytes(signature) + message


# What the signature covers: who it is from and to, what it says it is, and its thread.
SIGNED_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"In-Reply-To",
    b"References",
    b"Reply-To",
    b"Content-Type",
    b"MIME-Version",
]


def dkim_of(settings: Any) -> Dkim | None:
    """The signing keys TANDEM_DKIM_KEYS_DIR holds (<domain>.pem each); None when unset."""
    if not settings.dkim_keys_dir:
        return None
    folder = Path(settings.dkim_keys_dir)
    keys = {path.stem.lower(): path.read_bytes() for path in sorted(folder.glob("*.pem"))}
    return Dkim(settings.dkim_selector, keys)


@dataclass(frozen=True)
class Relay:
    """The SMTP relay mail goes out through (TANDEM_SMTP_RELAY_*)."""

    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout_s: float = 30.0
    local_hostname: str | None = None  # what we say in EHLO
    ca_file: str | None = None  # whom the relay's certificate must come from; None: the system's
    dkim: Dkim | None = None


def relay_of(settings: Any) -> Relay | None:
    """The relay the settings name; None when no host is set (mail stays queued)."""
    if not settings.smtp_relay_host:
        return None
    return Relay(
        host=settings.smtp_relay_host,
        port=settings.smtp_relay_port,
        username=settings.smtp_relay_username,
        password=settings.smtp_relay_password,
        starttls=settings.smtp_relay_starttls,
        timeout_s=settings.smtp_relay_timeout_seconds,
        local_hostname=settings.smtp_hostname,
        ca_file=settings.smtp_relay_ca_file or None,
        dkim=dkim_of(settings),
    )


@dataclass(frozen=True)
class Outgoing:
    """One mail taken from the outbox, ready to send."""

    client_id: int
    id: uuid.UUID
    recipient: str
    message: EmailMessage


def compose(
    *,
    brand: Brand,
    reply_to: str,
    recipient: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str | None,
    references: list[str],
    marker: str,
    date: datetime,
) -> EmailMessage:
    """The reply as sent (pure): see the module's description."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = formataddr((brand.reply_from_name, brand.reply_from_address))
    mail["To"] = recipient
    mail["Reply-To"] = formataddr((brand.reply_from_name, reply_to))
    mail["Subject"] = reply_subject(subject)
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    mail["X-Loop"] = marker
    body = text.rstrip()
    if brand.signature.strip():
        signature = brand.signature.rstrip()
        # The RFC 3676 separator ("-- ") lets mail clients fold the signature away.
        body += "\n\n" + (signature if signature.startswith("--") else f"-- \n{signature}")
    mail.set_content(body + "\n")
    return mail


def reply_subject(subject: str) -> str:
    """`Re: subject`, once: a subject already answered is not answered again."""
    subject = " ".join(subject.split())
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".rstrip()


def send_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    relay: Relay | None,
    keyring: Keyring,
    *,
    marker: str,
    max_attempts: int,
    limit: int = 100,
) -> int:
    """Send queued mail that is due, one at a time, up to `limit`; returns how many were
    tried. Nothing is tried without a relay."""
    if relay is None:
        return 0
    tried = 0
    connection = _Connection(relay)
    try:
        while tried < limit:
            batch = _take(
                sessions, clock, keyring, relay.timeout_s, marker, min(TAKEN, limit - tried)
            )
            if not batch:
                break
            for taken in batch:
                _send_and_record(sessions, clock, connection, taken, max_attempts)
            tried += len(batch)
    finally:
        connection.close()
    return tried


def _send_and_record(
    sessions: sessionmaker[Session],
    clock: Clock,
    connection: _Connection,
    taken: Outgoing | tuple[int, uuid.UUID],
    max_attempts: int,
) -> None:
    """One mail to the relay, and its attempt recorded at once (a crash between two mails
    sends no mail twice but the one in flight)."""
    started = time.perf_counter()
    if isinstance(taken, Outgoing):
        code, error, permanent = _send(connection, taken)
        mail_id, client_id = taken.id, taken.client_id
    else:  # it cannot be written (its conversation's customer has no address left)
        (client_id, mail_id), code, error, permanent = (
            taken,
            None,
            "no address to send to",
            True,
        )
    _record(
        sessions,
        clock,
        client_id,
        mail_id,
        code,
        error,
        permanent,
        time.perf_counter() - started,
        max_attempts,
    )


class _Connection:
    """One connection to the relay for a pass of `send_due`, opened at the first message and
    kept while the relay takes them (a connection per message cost more than the message);
    dropped at any failure, and opened again for the next message."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.client: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.client is None:
            relay = self.relay
            client = smtplib.SMTP(
                relay.host,
                relay.port,
                timeout=relay.timeout_s,
                local_hostname=relay.local_hostname,
            )
            try:
                client.ehlo()
                if relay.starttls:
                    client.starttls(context=ssl.create_default_context(cafile=relay.ca_file))
                    client.ehlo()
                if relay.username:
                    client.login(relay.username, relay.password)
            except BaseException:
                client.close()
                raise
            self.client = client
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def close(self) -> None:
        """QUIT, politely, at the end of a pass."""
        if self.client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.client.quit()
            self.drop()


def _send(connection: _Connection, outgoing: Outgoing) -> tuple[int | None, str | None, bool]:
    """(the relay's last reply code, what went wrong or None, whether it is for good). A 5xx
    answer is for good (the relay refuses the message itself); a 4xx, a connection or TLS
    failure is tried again."""
    sender = outgoing.message["From"].addresses[0].addr_spec
    data = outgoing.message.as_bytes(policy=email.policy.SMTP)
    if connection.relay.dkim is not None:
        data = connection.relay.dkim.sign(data, sender)
    try:
        refused = connection.open().sendmail(sender, [outgoing.recipient], data)
    except Exception as exc:
        connection.drop()  # whatever the relay said, the next message starts afresh
        return _failure(exc)
    if refused:
        code, reply = next(iter(refused.values()))
        return code, _said("the relay refused the recipient", code, reply), _for_good(code)
    return 250, None, False


def _failure(exc: Exception) -> tuple[int | None, str | None, bool]:
    """What a failed send's exception says (as `_send` answers); any other is raised."""
    match exc:
        case smtplib.SMTPRecipientsRefused():
            code, reply = next(iter(exc.recipients.values()), (None, b""))
            return code, _said("the relay refused the recipient", code, reply), _for_good(code)
        case smtplib.SMTPAuthenticationError():
            said = _said("the relay refused our credentials", exc.smtp_code, b"")
            return exc.smtp_code, said, False
        case smtplib.SMTPResponseException():
            said = _said("the relay refused", exc.smtp_code, exc.smtp_error)
            return exc.smtp_code, said, _for_good(exc.smtp_code)
        case smtplib.SMTPNotSupportedError():
            return None, "the relay does not offer STARTTLS", False
        case ssl.SSLError() | ssl.CertificateError():
            return None, "TLS with the relay failed", False
        case TimeoutError():
            return None, "the relay timed out", False
        case OSError() | smtplib.SMTPException():
            return None, "could not reach the relay", False
    raise exc


def _for_good(code: int | None) -> bool:
    return code is not None and 500 <= code < 600


def _said(what: str, code: int | None, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{what}: {code} {' '.join(text.split())}".strip()[:500]


def _take(
    sessions: sessionmaker[Session],
    clock: Clock,
    keyring: Keyring,
    timeout_s: float,
    marker: str,
    count: int,
) -> list[Outgoing | tuple[int, uuid.UUID]]:
    """Up to `count` of the earliest due mails, in one transaction, each one's next try
    pushed out past the sends' timeouts (their lease), written out; (client, id) for one
    that cannot be written. Empty when nothing is due. A handful of statements for the
    whole batch: the lease in one UPDATE, each table the mails need read once."""
    now = clock.now()
    with transaction(sessions) as session:
        query = (
            select(OutgoingMail)
            .where(OutgoingMail.status == QUEUED, OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at)
            .limit(count)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        mails = session.scalars(query).all()
        if not mails:
            return []
        lease = now + timedelta(seconds=timeout_s * (2 + len(mails)))
        session.execute(
            update(OutgoingMail)
            .where(
                tuple_(OutgoingMail.client_id, OutgoingMail.id).in_(
                    _keys((m.client_id, m.id) for m in mails)
                )
            )
            .values(next_attempt_at=lease)
            .execution_options(synchronize_session=False)
        )
        needed = _Needed.of(session, mails)
        taken: list[Outgoing | tuple[int, uuid.UUID]] = []
        for mail in mails:
            written = _written(keyring, mail, needed, marker, now)
            taken.append(written if written is not None else (mail.client_id, mail.id))
        return taken


def _keys(rows: Any) -> list[tuple[int, uuid.UUID]]:
    return sorted(set(rows))


@dataclass(frozen=True)
class _Needed:
    """What a batch of mails needs to be written, each table read once: their messages,
    conversations, brands, the brands' addresses and the customers' email identities."""

    messages: dict[tuple[int, uuid.UUID], Message]
    conversations: dict[tuple[int, uuid.UUID], Conversation]
    brands: dict[tuple[int, uuid.UUID], Brand]
    addresses: dict[tuple[int, uuid.UUID], list[str]]
    identities: dict[tuple[int, uuid.UUID], CustomerIdentity]

    @classmethod
    def of(cls, session: Session, mails: Sequence[OutgoingMail]) -> _Needed:
        messages = {
            (m.client_id, m.id): m
            for m in session.scalars(
                select(Message).where(
                    tuple_(Message.client_id, Message.id).in_(
                        _keys((m.client_id, m.message_id) for m in mails)
                    )
                )
            )
        }
        conversations = {
            (c.client_id, c.id): c
            for c in session.scalars(
                select(Conversation).where(
                    tuple_(Conversation.client_id, Conversation.id).in_(
                        _keys((m.client_id, m.conversation_id) for m in mails)
                    )
                )
            )
        }
        brand_keys = _keys((c.client_id, c.brand_id) for c in conversations.values())
        brands = {
            (b.client_id, b.id): b
            for b in session.scalars(
                select(Brand).where(tuple_(Brand.client_id, Brand.id).in_(brand_keys))
            )
        }
        addresses: dict[tuple[int, uuid.UUID], list[str]] = {}
        for client_id, brand_id, address in session.execute(
            select(BrandAddress.client_id, BrandAddress.brand_id, BrandAddress.address).where(
                tuple_(BrandAddress.client_id, BrandAddress.brand_id).in_(brand_keys)
            )
        ):
            addresses.setdefault((client_id, brand_id), []).append(address)
        identities: dict[tuple[int, uuid.UUID], CustomerIdentity] = {}
        for identity in session.scalars(
            select(CustomerIdentity).where(
                tuple_(CustomerIdentity.client_id, CustomerIdentity.customer_id).in_(
                    _keys((c.client_id, c.customer_id) for c in conversations.values())
                ),
                CustomerIdentity.kind == "email",
            )
        ):
            identities.setdefault((identity.client_id, identity.customer_id), identity)
        return cls(messages, conversations, brands, addresses, identities)


def _written(
    keyring: Keyring, mail: OutgoingMail, needed: _Needed, marker: str, now: datetime
) -> Outgoing | None:
    client_id = mail.client_id
    message = needed.messages[(client_id, mail.message_id)]
    conversation = needed.conversations[(client_id, mail.conversation_id)]
    brand = needed.brands[(client_id, conversation.brand_id)]
    identity = needed.identities.get((client_id, conversation.customer_id))
    if identity is None:
        return None
    recipient = str(
        keyring.open(client_id, conversation.customer_id, identity.sealed, IDENTITY)["email"]
    )
    text = (
        keyring.open(client_id, message.id, message.sealed, MESSAGE)["text"]
        if message.sealed
        else message.text
    )
    subject = (
        keyring.open(client_id, conversation.id, conversation.sealed, MESSAGE)["subject"]
        if conversation.sealed
        else conversation.subject
    )
    addresses = needed.addresses.get((client_id, brand.id), [])
    support = brand.reply_from_address if brand.reply_from_address in addresses else min(addresses)
    return Outgoing(
        client_id,
        mail.id,
        recipient,
        compose(
            brand=brand,
            reply_to=threads.reply_address(support, conversation.token),
            recipient=recipient,
            subject=str(subject or ""),
            text=str(text),
            message_id=message.message_id or f"{message.id.hex}@{marker}",
            in_reply_to=message.in_reply_to,
            references=list(message.references or []),
            marker=marker,
            date=now,
        ),
    )


def _record(
    sessions: sessionmaker[Session],
    clock: Clock,
    client_id: int,
    mail_id: uuid.UUID,
    code: int | None,
    error: str | None,
    permanent: bool,
    elapsed_s: float,
    max_attempts: int,
) -> None:
    now = clock.now()
    if error is None and _recorded_sent(sessions, client_id, mail_id, code, now, elapsed_s):
        metrics.MAIL_ATTEMPTS.labels("ok").inc()
        return
    with transaction(sessions) as session:
        # Counted under the row's lock, not taken from the claim (as webhooks do): every
        # attempt is recorded, even one that overlapped another's.
        attempts = 1 + int(
            session.execute(
                select(OutgoingMail.attempts)
                .where(OutgoingMail.client_id == client_id, OutgoingMail.id == mail_id)
                .with_for_update()
            ).scalar_one()
        )
        if error is None:
            values: dict[str, Any] = {"status": SENT, "sent_at": now, "last_error": None}
        elif permanent or attempts >= max_attempts:
            values = {"status": FAILED, "last_error": error}
        else:
            values = {"next_attempt_at": now + backoff(attempts), "last_error": error}
        session.execute(
            insert(MailAttempt).values(
                client_id=client_id,
                mail_id=mail_id,
                number=attempts,
                at=now,
                smtp_code=code,
                error=error,
                duration_ms=elapsed_s * 1000,
            )
        )
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.client_id == client_id, OutgoingMail.id == mail_id)
            .values(attempts=attempts, **values)
        )
    metrics.MAIL_ATTEMPTS.labels("ok" if error is None else "error").inc()


def _recorded_sent(
    sessions: sessionmaker[Session],
    client_id: int,
    mail_id: uuid.UUID,
    code: int | None,
    now: datetime,
    elapsed_s: float,
) -> bool:
    """A sent mail recorded in one statement, committed on its own (PostgreSQL): its row
    marked sent, its attempt counted under the row's lock (the UPDATE's), and the attempt
    written with that number. False: not done here (SQLite), record it as a failure is."""
    with sessions() as session:
        if not is_postgres(session):
            return False
        connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        marked = (
            update(OutgoingMail)
            .where(OutgoingMail.client_id == client_id, OutgoingMail.id == mail_id)
            .values(attempts=OutgoingMail.attempts + 1, status=SENT, sent_at=now, last_error=None)
            .returning(OutgoingMail.client_id, OutgoingMail.id, OutgoingMail.attempts)
            .cte("marked")
        )
        connection.execute(
            insert(MailAttempt).from_select(
                ["client_id", "mail_id", "number", "at", "smtp_code", "error", "duration_ms"],
                select(
                    marked.c.client_id,
                    marked.c.id,
                    marked.c.attempts,
                    literal(now, OutgoingMail.sent_at.type),
                    literal(code, MailAttempt.smtp_code.type),
                    literal(None, MailAttempt.error.type),
                    literal(elapsed_s * 1000, MailAttempt.duration_ms.type),
                ),
            )
        )
    return True
