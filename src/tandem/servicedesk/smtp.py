"""The service desk's SMTP server (aiosmtpd): takes mail for the brands' support addresses.

Refused at RCPT: an address no brand has (550 5.1.1). Refused at DATA: a message over the
size limit (552, by aiosmtpd, which also advertises SIZE), a loop (554 5.4.6). A message is
answered 250 only once its work is committed (tandem.servicedesk.inbound.receive, in one
transaction with the other messages for the same client that arrived meanwhile: Desk); the
database unavailable or any failure answers 451 (try again later), so the sending relay keeps
it: an accepted message is never lost, and a retried one is recognized by its Message-ID."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

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


GROUP_MAX = 4  # messages taken in one transaction at most (more: a longer wait for the first)
TAKERS = 4  # threads taking messages, each a group at a time (while one waits for the
# database, another's group goes on)


@dataclass
class _Waiting:
    """A message waiting for the transaction that takes it; `done` is answered after the
    commit (or with what failed)."""

    mail: content.Received
    scanned: inbound.Scanned
    recipients: list[str]
    done: Future[list[inbound.Taken]] = field(default_factory=Future)


class Desk:
    """The aiosmtpd handler: RCPT checks the address, DATA takes the message.

    Reading a message (MIME, quoted history, the scan for personal data) runs in the event
    loop's thread pool; its database work in a taker thread (TAKERS of them), which takes the
    messages that arrived while it committed its last ones together, in one transaction per
    client (group commit: a commit and its round trips per group, not per message). A
    message is answered 250 only once the transaction holding it is committed; if that
    transaction fails, its messages are taken again one per transaction, so one bad message
    costs only its own sender a 451."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[DbSession], contexts: Contexts
    ) -> None:
        self.sessions, self.contexts = sessions, contexts
        self.marker = settings.smtp_hostname
        self._brands: dict[str, tuple[float, tuple[int, uuid.UUID]]] = {}
        self._brands_lock = threading.Lock()
        self.max_received = settings.smtp_max_received
        self.rules = inbound.Rules.of(settings)
        self._waiting: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._takers = [
            threading.Thread(target=self._take_waiting, name=f"mail-taker-{n}", daemon=True)
            for n in range(TAKERS)
        ]
        for taker in self._takers:
            taker.start()

    def close(self) -> None:
        """The takers stop once the messages already waiting are taken."""
        for _ in self._takers:
            self._waiting.put(None)
        for taker in self._takers:
            taker.join(30)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            found = self._kept_brand(address)  # most often: no thread, no wait behind DATA's
            if found is None:
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
        message = content.parse_bytes(data)
        loop = classify.loop_of(message, marker=self.marker, max_received=self.max_received)
        if loop is not None:
            return f"554 5.4.6 Routing loop detected: {loop.reason}"
        try:
            waiting = await asyncio.get_running_loop().run_in_executor(
                None, self._read, data, message, list(envelope.rcpt_tos)
            )
            await asyncio.wrap_future(waiting.done)
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
        found = self._kept_brand(address)
        if found is not None:
            return found
        key, now = address.lower(), time.monotonic()
        with transaction(self.sessions) as session:
            brand = brands.brand_at(session, address)
            if brand is None:
                return None
            found = (brand.client_id, brand.id)
        with self._brands_lock:
            if len(self._brands) >= MAX_BRANDS_KEPT:
                self._brands.clear()
            self._brands[key] = (now, found)
        return found

    def _kept_brand(self, address: str) -> tuple[int, uuid.UUID] | None:
        """The brand kept for `address` (_brand), if kept and not older than BRAND_SECONDS."""
        kept = self._brands.get(address.lower())
        if kept is not None and time.monotonic() - kept[0] < BRAND_SECONDS:
            return kept[1]
        return None

    def take(self, data: bytes, recipients: list[str]) -> list[inbound.Taken]:
        """The message for each brand it was sent to, once committed (as DATA takes it)."""
        return self._read(data, content.parse_bytes(data), recipients).done.result()

    def _read(self, data: bytes, message: EmailMessage, recipients: list[str]) -> _Waiting:
        """The message read and scanned (no database), handed to the taker."""
        mail = content.read(data, message)
        waiting = _Waiting(mail, inbound.scan(mail), recipients)
        self._waiting.put(waiting)
        return waiting

    def _take_waiting(self) -> None:
        """The taker: each time, all the messages waiting (up to GROUP_MAX)."""
        while True:
            first = self._waiting.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < GROUP_MAX:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # this taker's end: the rest is the others'
                    stop = True
                    break
                group.append(more)
            try:
                self._take_group(group)
            except Exception as exc:  # never leave a sender waiting: 451 for what is left
                log.exception("taking a group of messages failed")
                for waiting in group:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
            if stop:
                return

    def _take_group(self, group: list[_Waiting]) -> None:
        """Each client's messages in the group in one transaction scoped to the client
        (PostgreSQL's row-level security holds it to that client's rows); one message for
        several brands is taken for each. Every message's `done` is answered."""
        taken: dict[int, list[inbound.Taken]] = {id(w): [] for w in group}
        failed: dict[int, BaseException] = {}
        by_client: dict[int, list[tuple[_Waiting, uuid.UUID, list[str]]]] = {}
        for waiting in group:
            try:
                by_brand: dict[tuple[int, uuid.UUID], list[str]] = {}
                for address in waiting.recipients:
                    found = self._brand(address)
                    if found is not None:
                        by_brand.setdefault(found, []).append(address)
            except Exception as exc:
                failed[id(waiting)] = exc
                continue
            for (client_id, brand_id), addresses in by_brand.items():
                by_client.setdefault(client_id, []).append((waiting, brand_id, addresses))
        for client_id, parts in by_client.items():
            parts = [part for part in parts if id(part[0]) not in failed]
            try:
                results = self._receive(client_id, parts)
            except Exception as exc:
                if len(parts) == 1:
                    failed[id(parts[0][0])] = exc
                    continue
                log.warning("taking %d messages together failed: one at a time", len(parts))
                results = []
                for part in parts:
                    try:
                        results.extend(self._receive(client_id, [part]))
                    except Exception as alone:
                        failed[id(part[0])] = alone
            for waiting, result in results:
                taken[id(waiting)].append(result)
        for waiting in group:
            if id(waiting) in failed:
                waiting.done.set_exception(failed[id(waiting)])
            else:
                waiting.done.set_result(taken[id(waiting)])

    def _receive(
        self, client_id: int, parts: list[tuple[_Waiting, uuid.UUID, list[str]]]
    ) -> list[tuple[_Waiting, inbound.Taken]]:
        """`parts` (a message, a brand of the client, the addresses of it the message was
        sent to) taken in one transaction, committed when this returns."""
        results = []
        with self._tenant(client_id), self.contexts(SYSTEM) as ctx:
            wanted = {brand_id for _, brand_id, _ in parts}
            found = {
                brand.id: brand
                for brand in ctx.session.scalars(
                    select(Brand).where(Brand.client_id == client_id, Brand.id.in_(wanted))
                )
            }
            for waiting, brand_id, addresses in parts:
                brand = found.get(brand_id)
                if brand is not None:
                    received = inbound.receive(
                        ctx, brand, waiting.mail, addresses, self.rules, scanned=waiting.scanned
                    )
                    results.append((waiting, received))
        return results

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
    desk: Desk

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()
        self.desk.close()


def start(
    settings: Settings, sessions: sessionmaker[DbSession], contexts: Contexts, host: str, port: int
) -> MailServer:
    """Serve mail for the brands on host:port until `stop` (the composition root passes its
    settings, sessions and contexts: tandem.container.Container)."""
    desk = Desk(settings, sessions, contexts)
    controller = Controller(
        desk,
        hostname=host,
        port=port,
        server_hostname=settings.smtp_hostname,
        ident="Tandem service desk",
        data_size_limit=settings.smtp_max_bytes,
        enable_SMTPUTF8=True,
        decode_data=False,
    )
    try:
        controller.start()
    except BaseException:
        desk.close()
        raise
    return MailServer(controller, desk)
