"""Agents see personal fields masked; a reveal needs a reason, a live lease and leaves an
audit record; the client sees its own data in clear."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.intake.service import submit_item
from tandem.work.models import WorkItem
from tests.conftest import FORM_SCHEMA, World

INPUT = {
    "type": "object",
    "required": ["applicant_name", "card_number"],
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "card_number": {"type": "string", "x-personal": "card"},
        "policy_type": {"type": "string"},
    },
}
PAYLOAD = {
    "applicant_name": "Maria Santos",
    "card_number": "4111111111111111",
    "policy_type": "health",
}


@pytest.fixture
def leased(container: Container, world: World, api: Any) -> str:
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="card-claims",
                name="Card claims",
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(ctx, process.id, PAYLOAD, at_risk_fraction=0.75)
    claimed = api("agent").post("/api/v1/dispatch/claim")
    assert claimed.status_code == 200, claimed.text
    lease: dict[str, Any] = claimed.json()
    assert lease["item_id"] == str(item.id)
    assert lease["payload"] == {
        "applicant_name": "M••• S•••",
        "card_number": "••••••••••••1111",
        "policy_type": "health",
    }
    return str(item.id)


def test_a_reveal_needs_a_reason_and_is_audited(
    leased: str, api: Any, container: Container
) -> None:
    agent = api("agent")
    no_reason = agent.post(f"/api/v1/leases/{leased}/reveal", json={"fields": ["card_number"]})
    assert no_reason.status_code == 422
    not_personal = agent.post(
        f"/api/v1/leases/{leased}/reveal",
        json={"fields": ["policy_type"], "reason": "checking the policy"},
    )
    assert not_personal.status_code == 422
    shown = agent.post(
        f"/api/v1/leases/{leased}/reveal",
        json={"fields": ["applicant_name"], "reason": "the scan is unreadable, confirm spelling"},
    )
    assert shown.status_code == 200 and shown.json() == {"applicant_name": "Maria Santos"}
    with transaction(container.sessions) as session:
        (record,) = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "personal_data.reveal")
        ).all()
    assert record.subject == f"work_item:{leased}"
    assert record.data == {
        "fields": ["applicant_name"],
        "reason": "the scan is unreadable, confirm spelling",
    }
    assert record.actor.startswith("agent:")


def test_only_the_lease_holder_may_reveal_and_the_client_sees_clear_values(
    leased: str, api: Any
) -> None:
    body = {"fields": ["applicant_name"], "reason": "curious about it"}
    assert api("other_agent").post(f"/api/v1/leases/{leased}/reveal", json=body).status_code == 404
    assert api("client").post(f"/api/v1/leases/{leased}/reveal", json=body).status_code == 403
    assert api("client").get(f"/api/v1/work-items/{leased}").json()["payload"] == {
        **PAYLOAD,
        "card_number": "••••••••••••1111",  # the one thing not even the client gets back
    }


def test_card_numbers_are_never_stored_in_clear(
    leased: str, api: Any, world: World, container: Container
) -> None:
    """Neither from the API (the leased item) nor from a file."""
    csv = b"applicant_name,card_number,policy_type\nAna Reyes,5500 0000 0000 0004,home\n"
    process_id = api("client").get(f"/api/v1/work-items/{leased}").json()["process_id"]
    uploaded = api("client").post(
        f"/api/v1/processes/{process_id}/batches", files={"file": ("cards.csv", csv)}
    )
    assert uploaded.status_code == 201, uploaded.text
    with container.engine.connect() as conn:
        stored = " ".join(str(p) for p in conn.scalars(select(WorkItem.payload)))
    assert "4111111111111111" not in stored and "5500 0000 0000 0004" not in stored
    assert "••••••••••••1111" in stored and "••••••••••••0004" in stored
