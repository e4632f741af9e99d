"""The benchmarks' own machinery: the dispatch benchmark's raw-SQL claimer runs the service's
own statements (when those change shape, this fails here rather than in the middle of a
benchmark run), and any error fails a run; the switches of the intake and privacy
benchmarks."""

from __future__ import annotations

import gc
from typing import Any, cast

import pytest
from sqlalchemy import Connection, select

from tandem.bench import privacy
from tandem.bench.dispatch import _missed_targets, _RawClaimer
from tandem.bench.intake import collector_running
from tandem.container import Container
from tandem.core import runtime
from tandem.core.db import transaction
from tandem.work import chunks
from tandem.work.chunks import ChunkWriter
from tandem.work.models import WorkItem, WorkItemEvent
from tests.conftest import World


@pytest.mark.postgres_only
def test_the_raw_claimer_claims_and_delivers_with_the_service_statements(
    container: Container, world: World, database_url: str
) -> None:
    item = world.submit(container)
    with transaction(container.sessions) as session:
        queues = container.dispatcher.servable(session, world.agent_id)
    claimer = _RawClaimer(database_url.replace("+psycopg", ""), world.agent_id, queues)
    try:
        assert claimer.pair() is not None
        assert claimer.pair() is None  # nothing left
    finally:
        claimer.close()
    with transaction(container.sessions) as session:
        state = session.scalar(select(WorkItem.state).where(WorkItem.id == item.id))
        steps = session.scalars(
            select(WorkItemEvent.to_state)
            .where(WorkItemEvent.work_item_id == item.id)
            .order_by(WorkItemEvent.seq)
        ).all()
    assert state == "delivered"
    assert steps == ["queued", "leased", "submitted", "delivered"]


def _figures(**changes: Any) -> dict[str, Any]:
    """The figures of a run that went well, with `changes`."""
    good: dict[str, Any] = {
        "service_ratio": 0.65,
        "ratio_1m_vs_10k": 0.9,
        "p99_claim_ms": 30.0,
        "double_assignments": 0,
        "errors": 0,
        "first_error": None,
        "leases_left_open": 0,
        "lost_items": 0,
        "inconsistent_rows": 0,
        "pairs_completed": 1_000,
        "delivered_in_db": 1_000,
    }
    return {**good, **changes}


def test_a_run_that_went_well_meets_its_targets() -> None:
    assert _missed_targets(_figures()) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"errors": 2, "first_error": "OperationalError: gone"}, "errors == 0"),
        ({"double_assignments": 1}, "double_assignments == 0"),
        ({"leases_left_open": 1}, "leases_left_open == 0"),
        ({"lost_items": 3}, "lost_items == 0"),
        ({"inconsistent_rows": 1}, "inconsistent_rows == 0"),
        ({"delivered_in_db": 999}, "pairs_completed == delivered_in_db"),
    ],
)
def test_any_error_fails_the_run_whatever_the_rates(changes: dict[str, Any], named: str) -> None:
    missed = _missed_targets(_figures(**changes))
    assert any(reason.startswith(named) for reason in missed), missed


def test_the_intake_benchmark_can_leave_the_collector_running() -> None:
    """TANDEM_BENCH_INTAKE_COLLECTOR=compare runs intake with the collector paused, as the
    product does, and left running: the switch must really leave it running."""
    connection = cast(Connection, None)  # nothing is written
    with ChunkWriter(connection):
        assert not gc.isenabled()
    with collector_running(), ChunkWriter(connection):
        assert gc.isenabled()
    assert gc.isenabled()
    assert chunks.paused_cycle_collection is runtime.paused_cycle_collection


def test_the_privacy_benchmark_checks_the_slowdown_on_both_databases() -> None:
    figures = {
        "pii_ms_per_kb": 0.6,
        "postgres_encrypted_intake_slowdown": 0.05,
        "sqlite_encrypted_intake_slowdown": 0.16,
    }
    assert privacy.missed_targets(figures) == ["sqlite_encrypted_intake_slowdown <= 0.15"]
    figures["sqlite_encrypted_intake_slowdown"] = 0.12
    assert privacy.missed_targets(figures) == []
    assert privacy._aes_gcm_cost(values=100, repeats=1) > 0
