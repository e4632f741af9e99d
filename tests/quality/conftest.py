"""What the quality tests share: the insurer's keying process under a QA policy, people in
the roles quality control involves, and one agent's claim-and-submit."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.intake.service import submit_item
from tandem.quality import gold
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.work.models import WorkItem
from tandem.work.transitions import ItemRef
from tests.conftest import FORM_SCHEMA, RESULT, World, _agent


@dataclass(frozen=True)
class Person:
    principal: Principal
    token: str

    @property
    def agent_id(self) -> uuid.UUID:
        return self.principal.agent()


@pytest.fixture
def person(container: Container, world: World) -> Any:
    """A new user in `role`, with an agent profile cleared for the insurer if `agent`."""
    count = 0

    def make(role: str, *, agent: bool = False, client_id: int | None = None) -> Person:
        nonlocal count
        count += 1
        now = container.clock.now()
        with transaction(container.sessions) as session:
            user = create_user(
                session,
                email=f"{role}{count}@example.com",
                name=f"{role} {count}",
                role=role,
                now=now,
                client_id=client_id,
            )
            agent_id = _agent(session, [world.client_id], user_id=user.id) if agent else None
            token = issue_token(session, user.id, "test", now)
        return Person(Principal(user.id, role, client_id, agent_id), token)

    return make


def set_policy(container: Container, process_id: uuid.UUID, mode: str, **values: Any) -> None:
    with transaction(container.sessions) as session:
        process = session.scalars(select(Process).where(Process.id == process_id)).one()
        process.qa_mode = mode
        for name, value in values.items():
            setattr(process, f"qa_{name}", value)


def work(
    container: Container,
    agent_id: uuid.UUID,
    result: dict[str, Any] | None = None,
) -> ItemRef:
    """The agent claims the next item and submits `result` (by default, a right one)."""
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, agent_id)
    assert lease is not None, "nothing to claim"
    with transaction(container.sessions) as session:
        return container.dispatcher.submit(
            session, agent_id, lease.item_id, lease.attempt, dict(result or RESULT)
        )


# -- gold items of a process with personal input fields --------------------------------------

PERSONAL_INPUT = {
    "type": "object",
    "required": ["applicant_name", "policy_type"],
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "card_number": {"type": "string", "x-personal": "card"},
        "condition": {"type": "string", "x-personal": "health"},
        "policy_type": {"type": "string"},
    },
}
GOLD_PAYLOAD = {
    "applicant_name": "Maria Santos",
    "card_number": "4111 1111 1111 1111",
    "condition": "Type 2 diabetes",
    "policy_type": "health",
}
# What must never be at rest in clear (the card's first digits: not even sealed).
IN_CLEAR = ("Maria", "Santos", "4111", "diabetes")
# What provider staff and agents see, and what the payload holds at rest.
MASKED = {
    "applicant_name": "M••• S•••",
    "card_number": "••••••••••••1111",
    "condition": "[hidden]",
    "policy_type": "health",
}
# What the sealed value holds: the clear values, the card number not among them.
SEALED_VALUES = {"applicant_name": "Maria Santos", "condition": "Type 2 diabetes"}
# The payload in clear for the client: the card cut to its last four, as at intake.
CLEAR_PAYLOAD = {**GOLD_PAYLOAD, "card_number": MASKED["card_number"]}
OPS = Principal(uuid.UUID(int=7), "ops_manager", None, None)


def personal_process(container: Container, world: World) -> uuid.UUID:
    """A process of the insurer with a name, a card number and health data in its input,
    one gold item per real one."""
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code=f"applications-{uuid.uuid4().hex[:6]}",
                name="Applications",
                kind="data_entry",
                input_schema=PERSONAL_INPUT,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=600,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
        process.qa_mode, process.qa_gold_rate = "none", 1.0
        return process.id


def add_gold(container: Container, process_id: uuid.UUID) -> uuid.UUID:
    with container.context(OPS) as ctx:
        return gold.add_gold_item(ctx, process_id, dict(GOLD_PAYLOAD), RESULT).id


def arrive(container: Container, world: World, process_id: uuid.UUID) -> uuid.UUID:
    """A real item of the process, from the client, at the clock's now."""
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(
            ctx,
            process_id,
            {"applicant_name": "Jose Rizal", "policy_type": "home"},
            at_risk_fraction=0.75,
        )
        return item.id


def seed(container: Container) -> int:
    with transaction(container.sessions) as session:
        return gold.seed_gold(
            session, container.clock.now(), random.Random(1), 0.75, keyring=container.keyring
        )


def seeded_copies(container: Container, world: World, process_id: uuid.UUID) -> set[uuid.UUID]:
    """A real item arrives and the gold job copies a gold item in for it: the new copies."""
    assert seed(container) == 0  # the first pass starts counting; nothing new since the last
    before = gold_copies(container)
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    arrive(container, world, process_id)
    assert seed(container) == 1
    return gold_copies(container) - before


def gold_copies(container: Container) -> set[uuid.UUID]:
    with transaction(container.sessions) as session:
        return set(session.scalars(select(WorkItem.id).where(WorkItem.gold.is_(True))))


def stored(container: Container, table: str) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Each row's payload (as JSON text) and sealed value as the database holds them: raw
    SQL, nothing of the application's in between."""
    with container.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, payload, sealed FROM {table}")).all()
    return {
        uuid.UUID(str(row[0])): (
            row[1] if isinstance(row[1], str) else json.dumps(row[1], ensure_ascii=False),
            row[2],
        )
        for row in rows
    }


def claim_copy(api: Any, copies: set[uuid.UUID]) -> dict[str, Any]:
    """The agent claims items, working the real ones that come first, until a gold copy."""
    agent = api("agent")
    for _ in range(10):
        lease: dict[str, Any] = agent.post("/api/v1/dispatch/claim").json()
        if uuid.UUID(lease["item_id"]) in copies:
            return lease
        done = agent.post(
            f"/api/v1/leases/{lease['item_id']}/submit",
            json={"attempt": lease["attempt"], "result": RESULT},
        )
        assert done.status_code == 200, done.text
    raise AssertionError("no gold copy claimed")
