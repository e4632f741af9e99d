"""Prometheus metrics. Counters live in the process that does the work (server or worker);
queue depth is read from the database at scrape time (tandem.work.queue_depth)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

CLAIMS = Counter("tandem_claims", "Work items claimed by agents", registry=REGISTRY)
EMPTY_CLAIMS = Counter(
    "tandem_claims_empty", "Claim requests that found nothing to do", registry=REGISTRY
)
EXPIRED_LEASES = Counter(
    "tandem_expired_leases", "Leases that expired and went back to the queue", registry=REGISTRY
)
SLA_BREACHES = Counter(
    "tandem_sla_breaches", "Work items marked as SLA breached", registry=REGISTRY
)
ITEMS_RECEIVED = Counter(
    "tandem_items_received", "Work items accepted at intake", ["channel"], registry=REGISTRY
)
ITEMS_DELIVERED = Counter("tandem_items_delivered", "Work items delivered", registry=REGISTRY)
DECISIONS = Counter(
    "tandem_decisions",
    "Decisions on work items, by who decided (rules, analyst, confirmation) and outcome",
    ["by", "outcome"],
    registry=REGISTRY,
)
REVIEWS = Counter(
    "tandem_reviews",
    "Quality reviews of work items, by kind (screening, sample, gold, ...) and finding",
    ["kind", "finding"],
    registry=REGISTRY,
)
QUALITY_ALERTS = Counter(
    "tandem_quality_alerts", "Agents fallen below a process's accuracy threshold", registry=REGISTRY
)
WEBHOOK_ATTEMPTS = Counter(
    "tandem_webhook_attempts", "Webhook delivery attempts", ["outcome"], registry=REGISTRY
)
MAIL_ATTEMPTS = Counter(
    "tandem_mail_attempts", "Service desk mail handed to the relay", ["outcome"], registry=REGISTRY
)
