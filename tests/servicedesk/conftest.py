"""A service desk on the test world: a conversation process and a brand for each client,
Tandem's real SMTP server on a free port, and a relay's side of SMTP for what Tandem sends."""

from __future__ import annotations

import email.policy
import smtplib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk import outgoing, smtp
from tandem.servicedesk.brands import CONVERSATION_INPUT, BrandDefinition, create_brand
from tandem.tenancy.principal import SYSTEM
from tests.conftest import World

REPLY_FORM = {
    "type": "object",
    "required": ["reply"],
    "properties": {"reply": {"type": "string", "minLength": 2}},
}
MAX_BYTES = 64 * 1024


@dataclass
class Desk:
    world: World
    port: int
    brand_id: uuid.UUID
    other_brand_id: uuid.UUID
    process_id: uuid.UUID

    def send(
        self, raw: bytes | str, to: str = "support@acme.example", sender: str = "maria@example.com"
    ) -> None:
        """One message over SMTP, as a relay sends it (no SIZE announced: the limit is met at
        DATA)."""
        data = raw.encode() if isinstance(raw, str) else raw
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # on the wire
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("relay.example")
            code, reply = client.mail(sender)
            assert code == 250, reply
            code, reply = client.rcpt(to)
            if code != 250:
                raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
            code, reply = client.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _conversation_process(container: Container, client_id: int) -> uuid.UUID:
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            client_id,
            ProcessDefinition(
                code="support",
                name="Customer service",
                kind="conversation",
                input_schema=CONVERSATION_INPUT,
                form_schema=REPLY_FORM,
                required_skills={"data_entry": 2},
                sla_minutes=120,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        return process.id


@pytest.fixture
def desk(container: Container, world: World) -> Iterator[Desk]:
    ids = []
    for client_id, code in ((world.client_id, "acme"), (world.other_client_id, "other")):
        process_id = _conversation_process(container, client_id)
        with container.context(SYSTEM) as ctx:
            brand = create_brand(
                ctx,
                BrandDefinition(
                    code=code,
                    name=code.title(),
                    process_id=process_id,
                    support_addresses=[f"support@{code}.example"],
                    reply_from_name=f"{code.title()} Support",
                    reply_from_address=f"support@{code}.example",
                    signature=f"-- \n{code.title()} Support",
                ),
            )
        ids.append((brand.id, process_id))
    settings = container.settings.model_copy(update={"smtp_max_bytes": MAX_BYTES})
    port = _free_port()
    server = smtp.start(settings, container.sessions, container.context, "127.0.0.1", port)
    try:
        yield Desk(world, port, ids[0][0], ids[1][0], ids[0][1])
    finally:
        server.stop()


@dataclass
class Sink:
    """A relay's side of SMTP: takes what Tandem sends (or refuses it with `refuse`)."""

    port: int
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # each message as it came
    refuse: str | None = None
    refuse_to: str | None = None  # refuse only this recipient
    connections: set[Any] = field(default_factory=set)  # the peers that gave a recipient

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.connections.add(session.peer)
        if self.refuse and self.refuse_to in (None, address):
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message = BytesParser(policy=email.policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), message))
        self.raw.append(data)
        return "250 2.0.0 queued"

    @property
    def relay(self) -> outgoing.Relay:
        return outgoing.Relay("127.0.0.1", self.port, starttls=False, timeout_s=5)


@pytest.fixture
def sink() -> Iterator[Sink]:
    found = Sink(_free_port())
    controller = Controller(found, hostname="127.0.0.1", port=found.port, decode_data=False)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()
