"""The people a process needs from its forecast: arrivals the client's rules decided as they
came need nobody, double entry needs two keyings; on the real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.reports import forecasting, staffing
from tandem.tenancy.principal import SYSTEM
from tandem.work import transitions
from tandem.work.lifecycle import State
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, World
from tests.workforce.history import TODAY, local, row


def _decisions(container: Container, world: World) -> Process:
    """Four weeks of a decision process's weekday arrivals at 10:00 (New York): 8 a day, 6
    of them delivered by the rules as they arrived, 2 referred to the queue."""
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="underwriting",
                name="Underwriting",
                kind="decision",
                input_schema=INPUT_SCHEMA,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 1},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        for back in range(1, 29):
            day = TODAY - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            at = local(day, 10, 5)
            for n in range(8):
                state = State.DELIVERED if n < 6 else State.QUEUED
                transitions.arrive_decided(
                    session,
                    row(process, at),
                    state,
                    actor="client:test",
                    decided_by="rules",
                    now=at,
                    result={"outcome": "approve"} if state is State.DELIVERED else None,
                )
        session.expunge(process)
        return process


def test_arrivals_the_rules_decided_need_nobody(container: Container, world: World) -> None:
    process = _decisions(container, world)
    with container.context(SYSTEM) as ctx:
        found = forecasting.process_forecast(ctx, process.id, weeks=4, days=2)
    assert found.worked_share == pytest.approx(0.25)  # 2 of each 8 referred
    assert found.work_per_arrival == pytest.approx(0.25)
    due = staffing.Assumptions("due", due_minutes=30, aht_seconds=900, shrinkage=0, max_occupancy=1)
    tomorrow = slice(found.main.forecast.per_day, 2 * found.main.forecast.per_day)
    people = staffing.staff_needed(found, due)[tomorrow]
    everyone = staffing.staff_needed(replace(found, worked_share=1.0), due)[tomorrow]
    # 8 arrivals at 10:00 of 15 minutes each, due within 30 minutes: 2 hours of work (4
    # people) if people did all, 30 minutes (1 person) for the 2 the rules refer
    assert sum(n.arrivals for n in people) == pytest.approx(8)
    assert max(n.agents for n in everyone) == 4
    assert max(n.agents for n in people) == 1


def test_double_entry_keys_each_arrival_twice(container: Container, world: World) -> None:
    with transaction(container.sessions) as session:
        process = session.get_one(Process, (world.client_id, world.process_id))
        process.qa_mode = "double_entry"
    with container.context(SYSTEM) as ctx:
        found = forecasting.process_forecast(ctx, world.process_id, weeks=3, days=1)
    assert found.keyings == 2 and found.worked_share == 1.0
    assert found.work_per_arrival == 2
