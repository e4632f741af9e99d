"""One pass of `tandem worker`: reaper, SLA escalation and webhooks together."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from tandem.clock import ManualClock
from tandem.db import transaction
from tandem.http import Container
from tandem.work.models import WorkItem
from tandem.worker import run_once
from tests.conftest import World


def test_a_worker_pass_reaps_and_escalates(
    container: Container, world: World, clock: ManualClock
) -> None:
    item = world.submit(container, "x")
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, world.agent_id) is not None
    with httpx.Client() as http:
        assert run_once(container, http) == {
            "reaped": 0,
            "gold_items": 0,
            "at_risk": 0,
            "breached": 0,
            "webhooks": 0,
            "resealed": 0,
            "purged": 0,
            "events_sealed": 0,
        }
        clock.advance(timedelta(hours=5))  # lease (60 s) expired, SLA (4 business hours) gone
        assert run_once(container, http) == {
            "reaped": 1,
            "gold_items": 0,
            "at_risk": 1,
            "breached": 1,
            "webhooks": 0,
            "resealed": 0,
            "purged": 0,
            "events_sealed": 2,  # its arrival and claim, older than the grace period
        }
    with transaction(container.sessions) as session:
        row = session.execute(
            select(WorkItem.state, WorkItem.lease_owner).where(WorkItem.id == item.id)
        ).one()
    assert tuple(row) == ("queued", None)
