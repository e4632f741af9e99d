"""What the quality tests share: the insurer's keying process under a QA policy, people in
the roles quality control involves, and one agent's claim-and-submit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from tandem.catalog.models import Process
from tandem.db import transaction
from tandem.http import Container
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.work.service import ItemRef
from tests.conftest import RESULT, World, _agent


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
