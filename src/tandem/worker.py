"""Background jobs: the lease reaper, gold items, SLA escalation, webhook delivery and
re-encryption after a key rotation."""

from __future__ import annotations

import logging
import threading

import httpx

from tandem.db import transaction
from tandem.delivery.webhooks import deliver_due
from tandem.http import Container
from tandem.privacy import keys
from tandem.quality.gold import seed_gold
from tandem.sla.service import escalate

log = logging.getLogger("tandem.worker")


def run_once(container: Container, http: httpx.Client) -> dict[str, int]:
    """One pass of every job, each in its own short transaction."""
    settings = container.settings
    with transaction(container.sessions) as session:
        reaped = container.dispatcher.reap(session)
    with transaction(container.sessions) as session:
        gold_items = seed_gold(
            session, container.clock.now(), container.dispatcher.rng, settings.at_risk_fraction
        )
    with transaction(container.sessions) as session:
        at_risk, breached = escalate(
            session, container.clock.now(), settings.at_risk_priority_boost
        )
    with transaction(container.sessions) as session:
        resealed = keys.advance(
            session, container.keyring, container.clock.now(), key=container.audit_key
        )
    sent = deliver_due(
        container.sessions,
        container.clock,
        http,
        max_attempts=settings.webhook_max_attempts,
        timeout_s=settings.webhook_timeout_seconds,
    )
    return {
        "reaped": reaped,
        "gold_items": gold_items,
        "at_risk": at_risk,
        "breached": breached,
        "webhooks": sent,
        "resealed": resealed,
    }


def run_forever(container: Container, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    with httpx.Client() as http:
        while not stop.is_set():
            try:
                counts = run_once(container, http)
                if any(counts.values()):
                    log.info("worker pass: %s", counts)
            except Exception:
                log.exception("worker pass failed; retrying")
            stop.wait(container.settings.worker_interval_seconds)
