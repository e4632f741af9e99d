"""An agent's presence over the real server: signing in makes them available, a break stops
their claims (the real dispatcher's 409), coming back lets them claim, signing out signs them
out, and a session that lapses counts as signed out after the idle timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.dispatch.service import OnBreak
from tandem.tenancy.models import User
from tandem.tenancy.principal import Principal
from tandem.tenancy.signin import set_password
from tandem.workforce import presence
from tandem.workforce.models import AgentPresence
from tests.conftest import World

PASSWORD = "a long enough passphrase"


def _console(server: str, container: Container, email: str) -> httpx.Client:
    """A client signed in to the console through the API, sending its pages' origin."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        set_password(session, user, PASSWORD)
    client = httpx.Client(base_url=server, headers={"Origin": server}, timeout=30)
    answer = client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client


def _rows(container: Container, world: World) -> list[tuple[str, str]]:
    with container.sessions() as session:
        return [
            (row.state, row.means)
            for row in session.execute(
                select(AgentPresence.state, AgentPresence.means)
                .where(AgentPresence.agent_id == world.agent_id)
                .order_by(AgentPresence.at, AgentPresence.id)
            )
        ]


def test_sign_in_break_claim_refused_back_claim_and_sign_out(
    server: str, container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    item = world.submit(container)
    console = _console(server, container, "a@provider.example")
    now = console.get("/api/v1/me/presence").json()
    assert now["state"] == "idle" and now["means"] == "sign_in"
    assert now["since"].startswith(clock.now().isoformat()[:19])

    clock.advance(timedelta(minutes=5))
    answer = console.put("/api/v1/me/presence", json={"state": "break"})
    assert answer.status_code == 200
    assert answer.json()["state"] == "break" and answer.json()["means"] == "api"
    refused = console.post("/api/v1/dispatch/claim")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "On a break"
    assert "on a break" in refused.json()["detail"]
    assert refused.json()["presence"] == "break"
    assert console.get("/api/v1/dispatch/queues").json() == []  # none while on a break
    # The same agent's API token is refused too: the break is the agent's, not the session's.
    assert api("agent").post("/api/v1/dispatch/claim").status_code == 409
    # Again: the state one is in changes nothing.
    assert console.put("/api/v1/me/presence", json={"state": "break"}).status_code == 200

    clock.advance(timedelta(minutes=10))
    back = console.put("/api/v1/me/presence", json={"state": "available"})
    assert back.json()["state"] == "idle"
    claimed = console.post("/api/v1/dispatch/claim")
    assert claimed.status_code == 200 and claimed.json()["item_id"] == str(item.id)

    console.post("/api/v1/auth/sign-out")
    after = api("agent").get("/api/v1/me/presence").json()
    assert (after["state"], after["means"]) == ("signed_out", "sign_out")
    assert _rows(container, world) == [
        ("available", "sign_in"),
        ("break", "api"),
        ("available", "api"),
        ("signed_out", "sign_out"),
    ]
    console.close()


def test_a_lapsed_session_reads_as_signed_out_after_the_idle_timeout(
    server: str, container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    console = _console(server, container, "a@provider.example")
    signed_in_at = clock.now()
    idle = container.settings.session_idle_minutes
    clock.advance(timedelta(minutes=idle - 1))
    assert api("agent").get("/api/v1/me/presence").json()["state"] == "idle"
    clock.advance(timedelta(minutes=2))  # the session's last request + the idle timeout: past
    now = api("agent").get("/api/v1/me/presence").json()
    assert (now["state"], now["means"]) == ("signed_out", "expiry")
    assert now["since"].startswith((signed_in_at + timedelta(minutes=idle)).isoformat()[:19])
    assert _rows(container, world) == [("available", "sign_in")]  # nothing written
    console.close()


def test_presence_refusals(server: str, container: Container, world: World, api: Any) -> None:
    agent = api("agent")
    bad = agent.put("/api/v1/me/presence", json={"state": "signed_out"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert agent.put("/api/v1/me/presence", json={}).status_code == 422
    # Not an agent: no presence to have.
    assert api("ops").put("/api/v1/me/presence", json={"state": "break"}).status_code == 403
    assert api("client").get("/api/v1/me/presence").status_code == 403
    assert httpx.get(f"{server}/api/v1/me/presence").status_code == 401


def test_the_dispatcher_refuses_a_claim_on_a_break(
    container: Container, world: World, clock: ManualClock
) -> None:
    world.submit(container)
    agent = Principal(world.agent_id, "agent", None, world.agent_id)
    idle = timedelta(minutes=30)
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "break", means="console", idle=idle)
    container.dispatcher.forget_agent(world.agent_id)  # as the routes do
    with transaction(container.sessions) as session, pytest.raises(OnBreak):
        container.dispatcher.claim(session, world.agent_id)
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "available", means="console", idle=idle)
    container.dispatcher.forget_agent(world.agent_id)  # as the routes do
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, world.agent_id) is not None
