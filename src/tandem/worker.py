"""Background jobs: the lease reaper, gold items, SLA escalation, webhook delivery, the
service desk's mail out, re-encryption after a key rotation, sealing item events into the
audit trail, checkpoints of every audit chain and, now and then, the retention purge (and
the purge of documents staged ahead that no item took in time)."""

from __future__ import annotations

import logging
import threading
import time

import httpx

from tandem.audit import service as audit
from tandem.container import Container
from tandem.core import heartbeat
from tandem.core.db import transaction
from tandem.custody import keys, retention
from tandem.delivery.addresses import networks
from tandem.delivery.webhooks import deliver_due
from tandem.documents.gold import GOLD_DOCUMENTS
from tandem.quality.gold import seed_gold
from tandem.servicedesk import outgoing, surveys
from tandem.work import trail as item_events
from tandem.work.transitions import escalate

log = logging.getLogger("tandem.worker")


def run_once(container: Container, http: httpx.Client, *, purge: bool = True) -> dict[str, int]:
    """One pass of every job, each in its own short transaction. The purge scans each
    client's finished items, so `run_forever` runs it only every purge_interval_minutes."""
    settings = container.settings
    with transaction(container.sessions) as session:
        reaped = container.dispatcher.reap(session)
    with transaction(container.sessions) as session:
        gold_items = seed_gold(
            session,
            container.clock.now(),
            container.dispatcher.rng,
            settings.at_risk_fraction,
            keyring=container.keyring,
            documents=GOLD_DOCUMENTS,
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
        keyring=container.keyring,
        allowed=networks(settings.webhook_allowed_networks),
    )
    asked = surveys.send_due(
        container.sessions,
        container.clock,
        container.keyring,
        public_url=settings.public_base_url,
        days=settings.survey_days,
    )
    mail = outgoing.send_due(
        container.sessions,
        container.clock,
        outgoing.relay_of(settings),
        container.keyring,
        marker=settings.smtp_hostname,
        max_attempts=settings.mail_max_attempts,
    )
    with transaction(container.sessions) as session:
        sealed = item_events.seal_events(session, container.audit_key, container.clock.now())
    with transaction(container.sessions) as session:
        checkpoints = int(audit.checkpoint(session, container.audit_key, now=container.clock.now()))
    purged = 0
    if purge:
        with transaction(container.sessions) as session:
            reports = retention.purge_due(
                session,
                container.clock.now(),
                key=container.audit_key,
                batch=settings.purge_batch,
            )
            purged = sum(
                report.counts["work_items"] + report.counts.get("conversations", 0)
                for report in reports
            )
        with transaction(container.sessions) as session:  # staged documents no item took
            stale = retention.purge_staged(
                session, container.clock.now(), key=container.audit_key, batch=settings.purge_batch
            )
            purged += sum(report.counts[retention.STAGED] for report in stale)
    with transaction(container.sessions) as session:  # for `tandem check --deploy`
        heartbeat.beat(session, settings.worker_interval_seconds)
    return {
        "reaped": reaped,
        "gold_items": gold_items,
        "at_risk": at_risk,
        "breached": breached,
        "webhooks": sent,
        "surveys": asked,
        "mail": mail,
        "resealed": resealed,
        "purged": purged,
        "events_sealed": sealed,
        "audit_checkpoints": checkpoints,
    }


def run_forever(container: Container, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    every = container.settings.purge_interval_minutes * 60
    last_purge = float("-inf")
    with httpx.Client() as http:
        while not stop.is_set():
            try:
                purge = time.monotonic() - last_purge >= every
                counts = run_once(container, http, purge=purge)
                if purge and counts["purged"] < container.settings.purge_batch:
                    last_purge = time.monotonic()  # caught up: wait for the next interval
                if any(counts.values()):
                    log.info("worker pass: %s", counts)
            except Exception:
                log.exception("worker pass failed; retrying")
            stop.wait(container.settings.worker_interval_seconds)
