"""The service desk's SMTP server (aiosmtpd): takes mail for the brands' support addresses.

Refused at RCPT: an address no brand has (550 5.1.1). Refused at DATA: a message over the
size limit (552, by aiosmtpd, which also advertises SIZE), a loop (554 5.4.6). A message is
answered 250 only once its work is committed (tandem.servicedesk.inbound.receive, one
transaction per brand it was sent to); the database unavailable or any failure answers 451
(try again later), so the sending relay keeps it: an accepted message is never lost, and a
retried one is recognized by its Message-ID."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tandem.core.config import Settings
from tandem.core.db import TENANT, transaction
from tandem.servicedesk import brands, classify, content, inbound
from tandem.servicedesk.models import Brand
from tandem.tenancy.context import Context
from tandem.tenancy.principal import SYSTEM, Principal

log = logging.getLogger(__name__)

# A use case's context for a principal (tandem.container.Container.context).
Contexts = Callable[[Principal], AbstractContextManager[Context]]

UNKNOWN_RECIPIENT = "550 5.1.1 No such mailbox here"
TRY_LATER = "451 4.3.0 Temporary failure: please try again later"
ACCEPTED = "250 2.0.0 Message accepted"
BRAND_SECONDS = 10.0  # how long a brand found for an address is kept (Desk._brand)
MAX_BRANDS_KEPT = 10_000


class Desk:
    """The aiosmtpd handler: RCPT checks the address, DATA takes the message. The database
    work runs in the event loop's thread pool (sessions are blocking)."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[DbSession], contexts: Contexts
    ) -> None:
        self.sessions, self.contexts = sessions, contexts
        self.marker = settings.smtp_hostname
        self._brands: dict[str, tuple[float, tuple[int, uuid.UUID]]] = {}
        self.max_received = settings.smtp_max_received
        self.rules = inbound.Rules.of(settings)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, self._brand, address)
        except Exception:
            log.exception("looking up the recipient %s failed", address)
            return TRY_LATER
        if found is None:
            return UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        data = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not data:
            data = envelope.content
        loop = classify.loop_of(
            content.parse_bytes(data), marker=self.marker, max_received=self.max_received
        )
        if loop is not None:
            return f"554 5.4.6 Routing loop detected: {loop.reason}"
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.take, data, list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("taking a message failed: answered 451 (the relay will retry)")
            return TRY_LATER
        return ACCEPTED

    def _brand(self, address: str) -> tuple[int, uuid.UUID] | None:
        """(client, brand) of the brand mail to `address` is for. A brand found is kept for
        BRAND_SECONDS: RCPT and DATA of every message ask for it (on PostgreSQL under load,
        a tenth of a message's cost); an address no brand has is looked up each time, so
        nobody fills the memory with made-up addresses. A brand's own row is read again,
        under its client, when its mail is taken."""
        key, now = address.lower(), time.monotonic()
        kept = self._brands.get(key)
        if kept is not None and now - kept[0] < BRAND_SECONDS:
            return kept[1]
        with transaction(self.sessions) as session:
            brand = brands.brand_at(session, address)
            if brand is None:
                return None
            found = (brand.client_id, brand.id)
        if len(self._brands) >= MAX_BRANDS_KEPT:
            self._brands.clear()
        self._brands[key] = (now, found)
        return found

    def take(self, data: bytes, recipients: list[str]) -> list[inbound.Taken]:
        """The message for each brand it was sent to, each in one transaction scoped to the
        brand's client (PostgreSQL's row-level security holds it to that client's rows)."""
        mail = content.read(data)
        by_brand: dict[tuple[int, uuid.UUID], list[str]] = {}
        for address in recipients:
            found = self._brand(address)
            if found is not None:
                by_brand.setdefault(found, []).append(address)
        taken = []
        for (client_id, brand_id), addresses in by_brand.items():
            with self._tenant(client_id), self.contexts(SYSTEM) as ctx:
                brand = ctx.session.scalar(
                    select(Brand).where(Brand.client_id == client_id, Brand.id == brand_id)
                )
                if brand is not None:
                    taken.append(inbound.receive(ctx, brand, mail, addresses, self.rules))
        return taken

    @staticmethod
    @contextmanager
    def _tenant(client_id: int) -> Iterator[None]:
        token = TENANT.set(client_id)
        try:
            yield
        finally:
            TENANT.reset(token)


@dataclass
class MailServer:
    """The SMTP server on a port, in a thread of its own (aiosmtpd's controller)."""

    controller: Controller

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()


def start(
    settings: Settings, sessions: sessionmaker[DbSession], contexts: Contexts, host: str, port: int
) -> MailServer:
    """Serve mail for the brands on host:port until `stop` (the composition root passes its
    settings, sessions and contexts: tandem.container.Container)."""
    controller = Controller(
        Desk(settings, sessions, contexts),
        hostname=host,
        port=port,
        server_hostname=settings.smtp_hostname,
        ident="Tandem service desk",
        data_size_limit=settings.smtp_max_bytes,
        enable_SMTPUTF8=True,
        decode_data=False,
    )
    controller.start()
    return MailServer(controller)
