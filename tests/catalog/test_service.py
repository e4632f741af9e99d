"""Defining a process: one ProcessDefinition, the API's body mapped to it in one place, its
defaults those of the body, every error naming its field."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from tandem.api.catalog import ProcessIn
from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process, whose_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.tenancy.principal import SYSTEM
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, World

SMALLEST = {
    "code": "claims",
    "name": "Claims",
    "kind": "data_entry",
    "input_schema": INPUT_SCHEMA,
    "form_schema": FORM_SCHEMA,
    "sla_minutes": 60,
    "sla_mode": "24x7",
}


def test_the_api_body_carries_every_field_of_a_definition_and_its_client() -> None:
    assert set(ProcessIn.model_fields) == {f.name for f in fields(ProcessDefinition)} | {
        "client_id"
    }


def test_a_body_and_a_definition_leave_out_the_same_fields_alike(
    container: Container, world: World
) -> None:
    now = container.clock.now()
    with transaction(container.sessions) as session:
        given = define_process(session, world.client_id, ProcessDefinition(**SMALLEST), now=now)
        body = ProcessIn.model_validate({**SMALLEST, "code": "claims-2", "client_id": 99})
        posted = define_process(session, world.client_id, body.definition(), now=now)
        for process in (given, posted):
            assert process.required_skills == {}
            assert process.agent_visible_personal == []
            assert (process.language, process.min_cefr, process.priority) == (None, None, 0)
            assert process.price_per_item == Decimal(0)
            assert process.client_id == world.client_id  # the body's client is not its own


def test_every_error_names_its_field(container: Container, world: World) -> None:
    wrong = ProcessDefinition(
        **{**SMALLEST, "kind": "typing", "sla_mode": "always", "sla_minutes": 0},
        required_skills={"juggling": 2, "data_entry": 9},
        min_cefr="D1",
        agent_visible_personal=["shoe_size"],
    )
    with transaction(container.sessions) as session, pytest.raises(InvalidInput) as raised:
        define_process(session, world.client_id, wrong, now=container.clock.now())
    assert [error["field"] for error in raised.value.extra["errors"]] == [
        "kind",
        "sla_mode",
        "sla_minutes",
        "required_skills.juggling",
        "required_skills.data_entry",
        "agent_visible_personal",
        "min_cefr",
    ]


def test_a_process_belongs_to_a_known_client_with_a_code_of_its_own(
    container: Container, world: World
) -> None:
    now = container.clock.now()
    with transaction(container.sessions) as session, pytest.raises(NotFound):
        define_process(session, 10_000, ProcessDefinition(**SMALLEST), now=now)
    with transaction(container.sessions) as session, pytest.raises(Conflict):
        define_process(
            session, world.client_id, ProcessDefinition(**{**SMALLEST, "code": "keying"}), now=now
        )


def test_provider_staff_name_the_client_and_a_clients_people_define_their_own(
    world: World,
) -> None:
    assert whose_process(world.client_user, None) == world.client_id
    assert whose_process(world.client_user, world.other_client_id) == world.client_id
    assert whose_process(SYSTEM, world.other_client_id) == world.other_client_id
    with pytest.raises(InvalidInput) as raised:
        whose_process(SYSTEM, None)
    assert raised.value.extra["errors"] == [{"field": "client_id", "message": "required"}]


# -- commercial terms are the provider's -----------------------------------------------------

TERMS_PROCESS = {
    "code": "claims",
    "name": "Claims",
    "kind": "data_entry",
    "input_schema": {"type": "object", "properties": {"ref": {"type": "string"}}},
    "form_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    "required_skills": {"data_entry": 2},
    "sla_minutes": 1,
}


def test_a_client_cannot_set_its_own_price_or_priority(api: Any, world: World) -> None:
    """A client admin set a negative price, a one-minute SLA and top priority: price and
    priority are refused by name, a negative price for anyone."""
    client = api("client")
    refused = client.post(
        "/api/v1/processes", json={**TERMS_PROCESS, "price_per_item": "5", "priority": 100}
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"price_per_item", "priority"}
    negative = api("ops").post(
        "/api/v1/processes",
        json={**TERMS_PROCESS, "client_id": world.client_id, "price_per_item": "-1"},
    )
    assert negative.status_code == 422
    assert [e["field"] for e in negative.json()["errors"]] == ["price_per_item"]


def test_a_clients_process_takes_work_once_the_provider_set_its_terms(
    api: Any, world: World, container: Container
) -> None:
    client, ops = api("client"), api("ops")
    proposed = client.post("/api/v1/processes", json=TERMS_PROCESS)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["active"] is False and proposed.json()["sla_minutes"] == 1
    process = proposed.json()["id"]
    items = f"/api/v1/processes/{process}/work-items"
    waiting = client.post(items, json={"payload": {"ref": "a"}})
    assert waiting.status_code == 409 and "awaits the provider's terms" in waiting.json()["detail"]
    terms = {
        "sla_minutes": 480,
        "sla_mode": "business_hours",
        "priority": 5,
        "price_per_item": "2.5",
    }
    assert client.put(f"/api/v1/processes/{process}/terms", json=terms).status_code == 403
    agreed = ops.put(f"/api/v1/processes/{process}/terms", json=terms)
    assert agreed.status_code == 200, agreed.text
    assert (agreed.json()["active"], agreed.json()["sla_minutes"]) == (True, 480)
    assert client.post(items, json={"payload": {"ref": "a"}}).status_code == 201
    with transaction(container.sessions) as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "process.terms")
        ).one()
    assert record.data["before"]["sla_minutes"] == 1 and record.data["after"]["priority"] == 5
    by_provider = ops.post(
        "/api/v1/processes",
        json={**TERMS_PROCESS, "code": "claims2", "client_id": world.client_id, "priority": 9},
    )
    assert by_provider.status_code == 201 and by_provider.json()["active"] is True
