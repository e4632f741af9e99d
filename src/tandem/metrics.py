"""Prometheus metrics. Counters live in the process that does the work (server or worker);
queue depth is read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

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


class QueueDepthCollector(Collector):
    """Open work items per client, process and state, counted when Prometheus scrapes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from tandem.catalog.models import Process
        from tandem.tenancy.models import Client
        from tandem.work.models import WorkItem

        gauge = GaugeMetricFamily(
            "tandem_queue_depth",
            "Work items not yet delivered or cancelled",
            labels=["client", "process", "state"],
        )
        with self._sessions() as session:
            rows = session.execute(
                select(Client.code, Process.code, WorkItem.state, func.count())
                .select_from(WorkItem)
                .join(
                    Process,
                    (Process.client_id == WorkItem.client_id) & (Process.id == WorkItem.process_id),
                )
                .join(Client, Client.id == WorkItem.client_id)
                .where(WorkItem.state.notin_(("delivered", "cancelled")))
                .group_by(Client.code, Process.code, WorkItem.state)
            ).all()
        for client, process, state, count in rows:
            gauge.add_metric([client, process, state], count)
        yield gauge
