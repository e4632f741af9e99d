"""Sending queued webhook events: signed, retried with exponential backoff, every attempt
recorded. No transaction is held open while a receiver answers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from tandem.core import metrics
from tandem.core.clock import Clock
from tandem.core.db import is_postgres, transaction
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.signing import HEADER, sign
from tandem.vault.sealing import RESULT, Keyring, opened

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s, 1 min, 2 min ... 1 h."""
    factor: int = 2 ** max(attempts - 1, 0)
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
    limit: int = 100,
) -> int:
    """Try every pending delivery that is due; returns how many were tried."""
    due = _take_due(sessions, clock, timeout_s, limit)
    for delivery in due:
        body = delivery.body(keyring)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = http.post(
                delivery.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    HEADER: sign(delivery.secret, int(clock.now().timestamp()), body),
                    "Tandem-Delivery": str(delivery.id),
                },
                timeout=timeout_s,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"receiver answered HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        _record(
            sessions, clock, delivery, status, error, time.perf_counter() - started, max_attempts
        )
    return len(due)


def _take_due(
    sessions: sessionmaker[Session], clock: Clock, timeout_s: float, limit: int
) -> list[_Due]:
    """Pick due deliveries and push their next try out, so that another worker does not send
    them at the same time (that push acts as a lease on the delivery)."""
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
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        due = [_Due(*row) for row in session.execute(query).all()]
        for delivery in due:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.client_id == delivery.client_id,
                    WebhookDelivery.id == delivery.id,
                )
                .values(next_attempt_at=now + timedelta(seconds=timeout_s * 3))
            )
    return due


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
    attempts = delivery.attempts + 1
    if error is None:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now}
    elif attempts >= max_attempts:
        values = {"status": "failed"}
    else:
        values = {"next_attempt_at": now + backoff(attempts)}
    with transaction(sessions) as session:
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
