"""Sending queued webhook events: signed, retried with exponential backoff, every attempt
recorded. No transaction is held open while a receiver answers."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import is_postgres, transaction
from tandem.delivery.addresses import Network, RefusedAddress, Unresolved, resolve
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.signing import HEADER, sign
from tandem.vault.sealing import RESULT, Keyring, opened

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s, 1 min, 2 min ... 1 h."""
    # The exponent stops growing once the cap is reached: 30 s * 2**42 overflows a timedelta.
    doublings = min(max(attempts - 1, 0), 20)
    factor: int = 2**doublings
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


@dataclass(frozen=True)
class _Due:
    client_id: int
    id: Any
    attempts: int
    url: str
    secret: str
    payload: dict[str, Any]
    work_item_id: Any
    result_sealed: str | None

    def body(self, keyring: Keyring) -> bytes:
        """The event as sent: the result's personal fields opened."""
        payload = self.payload
        if self.result_sealed:
            data = payload["data"]
            result = opened(
                keyring,
                self.client_id,
                self.work_item_id,
                data["result"],
                self.result_sealed,
                RESULT,
            )
            payload = {**payload, "data": {**data, "result": result}}
        return json.dumps(payload, separators=(",", ":")).encode()


def deliver_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    http: httpx.Client,
    *,
    max_attempts: int,
    timeout_s: float,
    keyring: Keyring,
    allowed: Sequence[Network] = (),
    limit: int = 100,
) -> int:
    """Try pending deliveries that are due, one at a time, up to `limit`; returns how many
    were tried. Each is taken just before it is sent, its next try pushed past the send's
    timeout: that push is its lease, so no other worker sends it meanwhile (taking a batch at
    once let the last ones' leases run out while the first were still being sent)."""
    tried = 0
    while tried < limit and (delivery := _take_one(sessions, clock, timeout_s)) is not None:
        started = time.perf_counter()
        status, error = _send(http, clock, delivery, keyring, timeout_s, allowed)
        _record(
            sessions, clock, delivery, status, error, time.perf_counter() - started, max_attempts
        )
        tried += 1
    return tried


def _send(
    http: httpx.Client,
    clock: Clock,
    delivery: _Due,
    keyring: Keyring,
    timeout_s: float,
    allowed: Sequence[Network],
) -> tuple[int | None, str | None]:
    """POST the event to the address its URL resolves to now, if that is still allowed
    (tandem.delivery.addresses); (status, None) on a 2xx, else what kind of failure it was.
    The failure is told by kind, never as the socket's own words: those would tell a client
    which of the provider's ports are open."""
    try:
        target = resolve(delivery.url, allowed)
    except Unresolved:
        return None, "the receiver's host name does not resolve"
    except RefusedAddress:
        return None, "refused: the URL leads to an address webhooks may not call"
    body = delivery.body(keyring)
    host = target.address if ":" not in target.address else f"[{target.address}]"
    parts = urlsplit(delivery.url)
    url = urlunsplit((target.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
    headers = {
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        HEADER: sign(delivery.secret, int(clock.now().timestamp()), body),
        "Tandem-Delivery": str(delivery.id),
    }
    try:
        response = http.post(
            url,
            content=body,
            headers=headers,
            timeout=timeout_s,
            extensions={"sni_hostname": target.host},  # TLS checks the name, not the address
        )
    except httpx.TimeoutException:
        return None, "timed out"
    except httpx.ConnectError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            return None, "TLS handshake failed"
        return None, "could not connect"
    except httpx.HTTPError:
        return None, "the exchange with the receiver failed"
    if not 200 <= response.status_code < 300:
        return response.status_code, f"receiver answered HTTP {response.status_code}"
    return response.status_code, None


def _take_one(sessions: sessionmaker[Session], clock: Clock, timeout_s: float) -> _Due | None:
    """The earliest due delivery, its next try pushed out past the send's timeout (a lease:
    no other worker takes it meanwhile; one that crashes mid-send leaves it to be retried)."""
    now = clock.now()
    with transaction(sessions) as session:
        query = (
            select(
                WebhookDelivery.client_id,
                WebhookDelivery.id,
                WebhookDelivery.attempts,
                WebhookSubscription.url,
                WebhookSubscription.secret,
                WebhookDelivery.payload,
                WebhookDelivery.work_item_id,
                WebhookDelivery.result_sealed,
            )
            .join(
                WebhookSubscription,
                (WebhookSubscription.client_id == WebhookDelivery.client_id)
                & (WebhookSubscription.id == WebhookDelivery.subscription_id),
            )
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(1)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        row = session.execute(query).one_or_none()
        if row is None:
            return None
        delivery = _Due(*row)
        session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.client_id == delivery.client_id,
                WebhookDelivery.id == delivery.id,
            )
            .values(next_attempt_at=now + timedelta(seconds=timeout_s * 3))
        )
    return delivery


def _record(
    sessions: sessionmaker[Session],
    clock: Clock,
    delivery: _Due,
    status: int | None,
    error: str | None,
    elapsed_s: float,
    max_attempts: int,
) -> None:
    now = clock.now()
    with transaction(sessions) as session:
        # The attempt's number is counted under the row's lock, not taken from the claim:
        # every attempt is recorded, even one that overlapped another (a worker that stalled
        # past its lease), instead of failing on the number's uniqueness.
        attempts = 1 + int(
            session.execute(
                select(WebhookDelivery.attempts)
                .where(
                    WebhookDelivery.client_id == delivery.client_id,
                    WebhookDelivery.id == delivery.id,
                )
                .with_for_update()
            ).scalar_one()
        )
        if error is None:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now}
        elif attempts >= max_attempts:
            values = {"status": "failed"}
        else:
            values = {"next_attempt_at": now + backoff(attempts)}
        session.execute(
            insert(WebhookAttempt).values(
                client_id=delivery.client_id,
                delivery_id=delivery.id,
                number=attempts,
                at=now,
                status_code=status,
                error=error,
                duration_ms=elapsed_s * 1000,
            )
        )
        session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.client_id == delivery.client_id,
                WebhookDelivery.id == delivery.id,
            )
            .values(attempts=attempts, **values)
        )
    metrics.WEBHOOK_ATTEMPTS.labels("ok" if error is None else "error").inc()
