"""Queue depth for Prometheus: open work items per client, process and state, counted from
the database when it scrapes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tandem.catalog.models import Process
from tandem.tenancy.models import Client
from tandem.work.models import WorkItem


class QueueDepthCollector(Collector):
    """Open work items per client, process and state, counted when Prometheus scrapes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
