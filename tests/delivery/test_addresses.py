"""Webhooks call only addresses they should: refused at registration and again at each
delivery; failures recorded by kind; at most one delivery of an event in flight."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import load_settings
from tandem.core.db import transaction
from tandem.delivery.addresses import (
    RefusedAddress,
    Unresolved,
    check,
    forbidden,
    networks,
    resolve,
)
from tandem.delivery.models import WebhookAttempt, WebhookDelivery
from tandem.delivery.webhooks import deliver_due
from tests.conftest import LOCAL, World
from tests.delivery.test_delivery import Receiver, _deliver_one

INTERNAL = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/hook",  # ... in hex
    "http://127.1/hook",  # ... shortened
    "http://0177.0.0.1/hook",  # ... octal
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4 mapped in IPv6
    "http://[::ffff:7f00:1]/hook",
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://0.0.0.0/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_in_every_spelling_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddress):
        resolve(url)


def test_public_addresses_and_allowed_networks_pass() -> None:
    assert resolve("https://93.184.215.14/hook").address == "93.184.215.14"
    assert not forbidden(ipaddress.ip_address("2606:4700::6810:84e5"))
    assert resolve("http://10.20.1.2:8080/x", networks("10.20.0.0/16")).port == 8080
    with pytest.raises(RefusedAddress, match="http:// or https://"):
        resolve("ftp://93.184.215.14/x")
    with pytest.raises(Unresolved, match="does not resolve"):
        resolve("http://no-such-host.invalid/hook")
    check("http://no-such-host.invalid/hook")  # registered: checked again at each delivery
    with pytest.raises(RefusedAddress):
        check("http://localhost/hook")


@pytest.mark.parametrize("url", ["http://2130706433/x", "http://[::ffff:127.0.0.1]/x"])
def test_registering_an_internal_receiver_is_a_422_naming_the_url(
    api: Any, container: Container, url: str
) -> None:
    container.settings = load_settings(database_url=container.settings.database_url)
    refused = api("client").post("/api/v1/webhooks", json={"url": url})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "url"


def _deliver(
    container: Container, allowed: Any = LOCAL, clock: Any = None, timeout_s: float = 2.0
) -> int:
    with httpx.Client() as http:
        return deliver_due(
            container.sessions,
            clock or container.clock,
            http,
            max_attempts=5,
            timeout_s=timeout_s,
            keyring=container.keyring,
            allowed=allowed,
        )


def _pending(container: Container) -> int:
    with transaction(container.sessions) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
            )
            or 0
        )


def _errors(container: Container) -> list[str | None]:
    with transaction(container.sessions) as session:
        return list(session.scalars(select(WebhookAttempt.error)).all())


def test_a_receiver_that_became_internal_is_not_called(
    api: Any, world: World, container: Container
) -> None:
    """Checked again at delivery: a name may resolve elsewhere later (here: the provider no
    longer allows the network). Nothing reaches the receiver; the attempt says why."""
    receiver = Receiver([])
    assert api("client").post("/api/v1/webhooks", json={"url": receiver.url}).status_code == 201
    _deliver_one(api, world)
    assert _deliver(container, allowed=()) == 1
    assert receiver.requests == []
    assert _errors(container) == ["refused: the URL leads to an address webhooks may not call"]


def test_a_failed_attempt_names_the_kind_of_failure_not_the_socket_error(
    api: Any, world: World, container: Container
) -> None:
    receiver = Receiver([])
    closed_url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens there any more
    assert api("client").post("/api/v1/webhooks", json={"url": closed_url}).status_code == 201
    _deliver_one(api, world)
    assert _deliver(container) == 1
    assert _errors(container) == ["could not connect"]  # not "[Errno 111] Connection refused"


class SlowReceiver:
    """Answers each event after `delay` seconds, counting the deliveries it was sent."""

    def __init__(self, delay: float) -> None:
        self.seen: Counter[str] = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.seen[self.headers["Tandem-Delivery"]] += 1
                time.sleep(delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_two_workers_never_send_the_same_event_at_once(
    api: Any, world: World, container: Container
) -> None:
    """A slow receiver (0.25 s an event), two workers polling on the real clock with a
    0.5 s timeout (a 1.5 s lease): 15 events take 3.75 s one after the other. Taking them
    100 at a time let the last ones' leases run out while the first were being sent, and the
    other worker sent them again. Each event is sent once, and every attempt is recorded."""
    receiver = SlowReceiver(0.25)
    assert api("client").post("/api/v1/webhooks", json={"url": receiver.url}).status_code == 201
    for _ in range(15):
        _deliver_one(api, world)  # a file of two: one delivered (one event), one queued
    with transaction(container.sessions) as session:
        events = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert events == 15
    workers = [
        threading.Thread(target=_deliver, args=(container, LOCAL, SystemClock())) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
        time.sleep(0.1)
    for worker in workers:
        worker.join(timeout=60)
    assert len(receiver.seen) == 15 and set(receiver.seen.values()) == {1}
    with transaction(container.sessions) as session:
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 15
        delivered = session.scalars(select(WebhookDelivery.status)).all()
    assert set(delivered) == {"delivered"}
