"""One pass of `tandem worker`: reaper, SLA escalation and webhooks together; gold copies
sealed and gold items re-sealed after a key rotation."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody import keys
from tandem.tenancy.principal import SYSTEM
from tandem.vault.sealing import key_ref
from tandem.work.models import WorkItem
from tandem.worker import run_once
from tests.conftest import World
from tests.quality.conftest import (
    SEALED_VALUES,
    add_gold,
    arrive,
    gold_copies,
    personal_process,
    stored,
)


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
            "surveys": 0,
            "mail": 0,
            "resealed": 0,
            "purged": 0,
            "events_sealed": 0,
            "audit_checkpoints": 0,  # no client has a chain yet
        }
        clock.advance(timedelta(hours=5))  # lease (60 s) expired, SLA (4 business hours) gone
        assert run_once(container, http) == {
            "reaped": 1,
            "gold_items": 0,
            "at_risk": 1,
            "breached": 1,
            "webhooks": 0,
            "surveys": 0,
            "mail": 0,
            "resealed": 0,
            "purged": 0,
            "events_sealed": 2,  # its arrival and claim, older than the grace period
            "audit_checkpoints": 1,  # the insurer's chain began with that seal
        }
    with transaction(container.sessions) as session:
        row = session.execute(
            select(WorkItem.state, WorkItem.lease_owner).where(WorkItem.id == item.id)
        ).one()
    assert tuple(row) == ("queued", None)


def test_a_worker_pass_seals_gold_copies_and_re_seals_gold_items(
    container: Container, world: World, clock: ManualClock
) -> None:
    process_id = personal_process(container, world)
    add_gold(container, process_id)
    with httpx.Client() as http:
        assert run_once(container, http)["gold_items"] == 0  # starts counting
        clock.advance(timedelta(seconds=1))
        arrive(container, world, process_id)
        assert run_once(container, http)["gold_items"] == 1
        (copy_id,) = gold_copies(container)
        _, sealed = stored(container, "work_items")[copy_id]
        assert sealed is not None  # sealed with the container's keyring, under the copy's id
        assert container.keyring.open(world.client_id, copy_id, sealed) == SEALED_VALUES
        with container.context(SYSTEM) as ctx:
            keys.rotate(ctx, world.client_id)
        # The walk re-seals the real item and the copy; its end, the gold item.
        assert [run_once(container, http)["resealed"] for _ in range(3)] == [2, 1, 0]
    ((_, gold_sealed),) = stored(container, "qa_gold_items").values()
    assert gold_sealed is not None and key_ref(gold_sealed)[1] == 2
