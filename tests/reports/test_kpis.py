"""A client's KPIs from its items: SLA attainment, turnaround, cost, open work."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.reports.kpis import client_kpis
from tandem.tenancy.principal import SYSTEM
from tests.conftest import RESULT, World


def _deliver(container: Container, world: World) -> None:
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
        assert lease is not None
        container.dispatcher.submit(session, world.agent_id, lease.item_id, lease.attempt, RESULT)


def test_kpis_count_on_time_late_and_open_work(
    container: Container, world: World, clock: ManualClock
) -> None:
    with transaction(container.sessions) as session:
        session.get_one(Process, (world.client_id, world.process_id)).price_per_item = Decimal(
            "0.85"
        )
    world.submit(container, "on-time.pdf")
    clock.advance(timedelta(hours=1))
    _deliver(container, world)  # after an hour: within the 4-hour SLA
    world.submit(container, "late.pdf")
    clock.advance(timedelta(days=1))
    _deliver(container, world)  # a day later: breached
    world.submit(container, "open.pdf")
    with container.context(SYSTEM) as ctx:
        kpis = client_kpis(ctx, world.client_id, period=timedelta(days=30))
        other = client_kpis(ctx, world.other_client_id, period=timedelta(days=30))
        later = client_kpis(ctx, world.client_id, period=timedelta(hours=1))
    assert (kpis.delivered, kpis.on_time, kpis.sla_attainment) == (2, 1, 0.5)
    assert kpis.turnaround_hours is not None and abs(kpis.turnaround_hours - 12.5) < 0.01
    assert kpis.cost == Decimal("1.70")
    assert (kpis.open_items, kpis.accuracy, kpis.straight_through_rate) == (1, None, None)
    assert (other.delivered, other.open_items) == (0, 0)
    assert later.delivered == 1  # only what was delivered in the period
