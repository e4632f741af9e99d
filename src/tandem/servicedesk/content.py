"""What a received email says (pure): its sender, subject, the new text (quoted history and
signature cut by mail-parser-reply), the HTML sanitized by nh3 (Ammonia) with a text rendering
(inscriptis) for HTML-only mail, and its attachments."""

from __future__ import annotations

import email.policy
import functools
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from inscriptis import get_text
from mailparser_reply import EmailReplyParser

from tandem.servicedesk import classify, threads

# The languages of the quote headers and signatures cut ("On ... wrote:", "Am ... schrieb").
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv"]
MAX_SUBJECT = 500


@dataclass(frozen=True)
class File:
    filename: str
    media_type: str
    data: bytes


@dataclass
class Received:
    """An email as the service desk keeps it."""

    sender: str  # the From address, lower case
    sender_name: str
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    answered: list[str]  # the Message-IDs it answers, most telling first
    recipients: list[str]  # To and Cc addresses
    new_text: str  # without the quoted history and signature
    full_text: str
    html: str | None  # sanitized
    kind: str  # classify.PERSON, AUTO_REPLY or BOUNCE
    authentication_results: list[str]
    files: list[File] = field(default_factory=list)
    size: int = 0


@functools.lru_cache(maxsize=4096)
def _fetched(name: str, value: str) -> BaseHeader:
    # The header object depends on nothing but the name and the raw value, and nothing
    # changes it once made, so one made is as good as another.
    header: BaseHeader = email.policy.default.header_fetch_parse(name, value)
    return header


@functools.lru_cache(maxsize=1024)
def _stored(name: str, value: str) -> tuple[str, str]:
    # As _fetched; a value refused (a line break in it) raises each time, as it did.
    return email.policy.default.header_store_parse(name, value)


class _Policy(email.policy.EmailPolicy):
    """The standard library's default policy, remembering the headers it parsed: reading a
    message asks for its Content-Type a dozen times (get_body, iter_attachments,
    get_content), and each ask parsed the header anew (most of the cost of reading a
    message); writing many replies sets the same From, X-Loop and MIME headers on each."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return value
        return _fetched(name, value)

    def header_store_parse(self, name: str, value: str) -> tuple[str, str]:
        if type(value) is not str:  # a header object or an address: as the default does
            return email.policy.default.header_store_parse(name, value)
        return _stored(name, value)


POLICY = _Policy()


def parse_bytes(data: bytes) -> EmailMessage:
    message = BytesParser(policy=POLICY).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def read(data: bytes, message: EmailMessage | None = None) -> Received:
    """The email in `data` (RFC 5322 bytes, as DATA received them); `message`: `data`
    already parsed (parse_bytes), so it is not parsed again."""
    message = parse_bytes(data) if message is None else message
    name, sender = parseaddr(str(message.get("From", "")))
    text, html = _bodies(message)
    sanitized = sanitize(html) if html is not None else None
    full = text if text is not None else (as_text(sanitized) if sanitized else "")
    in_reply_to = _header(message, "In-Reply-To")
    references = threads.message_ids(_header(message, "References"))
    ids = threads.message_ids(_header(message, "Message-ID"))
    recipients = [
        address.lower()
        for _, address in getaddresses(
            [str(v) for v in (message.get_all("To") or []) + (message.get_all("Cc") or [])]
        )
        if address
    ]
    return Received(
        sender=sender.lower(),
        sender_name=name,
        subject=(_header(message, "Subject") or "").strip()[:MAX_SUBJECT],
        message_id=ids[0] if ids else None,
        in_reply_to=next(iter(threads.message_ids(in_reply_to)), None),
        references=references,
        answered=threads.answered_ids(in_reply_to, _header(message, "References")),
        recipients=recipients,
        new_text=new_text(full),
        full_text=full,
        html=sanitized,
        kind=classify.kind_of(message),
        authentication_results=[str(v) for v in message.get_all("Authentication-Results") or []],
        files=list(_files(message)),
        size=len(data),
    )


def new_text(text: str) -> str:
    """The text the sender wrote this time: quoted history ("On ... wrote:", Outlook's
    "From: ... Sent: ..." block, "> " lines) and signature cut; all of it if nothing is
    left (a message that is only a quote keeps its text)."""
    if not text.strip():
        return ""
    parser = EmailReplyParser(languages=REPLY_LANGUAGES)
    replies = parser.read(text=text).replies
    first = replies[0].body.strip() if replies else ""
    return first or text.strip()


def sanitize(html: str) -> str:
    """HTML with scripts, styles, event handlers, forms and remote-loading attributes gone
    (Ammonia's allow-list), links marked rel="noopener noreferrer"."""
    return nh3.clean(html)


def as_text(html: str) -> str:
    """A readable text rendering of (sanitized) HTML: paragraphs, lists and tables laid out."""
    return str(get_text(html)).strip()


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """(the plain text body, the HTML body) the sender would have us show."""
    if message.get_content_type() == "multipart/report":
        # A DSN: its human-readable part is the text; the machine parts are not bodies.
        first = next(iter(message.iter_parts()), None)
        if isinstance(first, EmailMessage) and first.get_content_maintype() == "text":
            return _content(first), None
        return None, None
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    return (
        _content(plain) if isinstance(plain, EmailMessage) else None,
        _content(rich) if isinstance(rich, EmailMessage) else None,
    )


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _files(message: EmailMessage) -> list[File]:
    if message.get_content_type() == "multipart/report":
        return []
    files = []
    for part in message.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        filename = (part.get_filename() or "attachment").replace("/", "_")[:255]
        files.append(File(filename, part.get_content_type()[:127], data))
    return files
