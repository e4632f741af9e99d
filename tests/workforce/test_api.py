"""Administering the workforce over HTTP: adding agents, replacing their skills, languages,
clearances and shifts, deactivating them; who may; validation errors naming the field; the
audit trail of each change; and that a change holds from the agent's very next claim, though
the dispatcher caches each agent's queues."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER, AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.service import create_user, issue_token
from tandem.work.trail import verify_trail
from tandem.workforce.models import Agent, AgentClearance, AgentLanguage, AgentSkill, Shift
from tests.conftest import World

ALL_WEEK = [{"weekday": day, "start_minute": 0, "duration_minutes": 1440} for day in range(7)]


def _trail(container: Container, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    with transaction(container.sessions) as session:
        return [
            (record.action, record.actor, record.data)
            for record in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.client_id == PROVIDER, AuditRecord.subject == subject)
                .order_by(AuditRecord.seq)
            )
        ]


def _user_id(container: Container, email: str) -> uuid.UUID:
    with container.sessions() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def _new_user(container: Container, email: str, role: str) -> tuple[uuid.UUID, str]:
    """A provider user of this role, and their token."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(session, email=email, name=email, role=role, now=now)
        return user.id, issue_token(session, user.id, "test", now)


def _errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_an_ops_manager_adds_an_agent_and_replaces_each_set_audited(
    api: Any, container: Container, world: World
) -> None:
    ops = api("ops")
    created = ops.post(
        "/api/v1/agents", json={"name": "Rosa Reyes", "center_code": "MNL", "tier": "analyst"}
    )
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent == {
        "id": agent["id"],
        "name": "Rosa Reyes",
        "center_code": "MNL",
        "tier": "analyst",
        "active": True,
        "user_id": None,
        "skills": {},
        "languages": {},
        "client_ids": [],
        "shifts": [],
    }
    url = f"/api/v1/agents/{agent['id']}"

    skills = ops.put(f"{url}/skills", json={"skills": {"data_entry": 4}})
    assert skills.status_code == 200, skills.text
    assert skills.json()["skills"] == {"data_entry": 4}
    languages = ops.put(f"{url}/languages", json={"languages": {"en": "C1", "pt-BR": "B2"}})
    assert languages.status_code == 200, languages.text
    assert languages.json()["languages"] == {"en": "C1", "pt-BR": "B2"}
    ids = [world.other_client_id, world.client_id, world.other_client_id]  # a repeat is one
    clearances = ops.put(f"{url}/clearances", json={"client_ids": ids})
    assert clearances.status_code == 200, clearances.text
    assert clearances.json()["client_ids"] == sorted({world.client_id, world.other_client_id})
    night = {"weekday": 4, "start_minute": 22 * 60, "duration_minutes": 480}  # past midnight
    morning = {"weekday": 0, "start_minute": 9 * 60, "duration_minutes": 540}
    shifts = ops.put(f"{url}/shifts", json={"shifts": [night, morning]})
    assert shifts.status_code == 200, shifts.text
    assert shifts.json()["shifts"] == [morning, night]

    # Each PUT replaces the whole set: the old skill goes, the new one is all there is.
    replaced = ops.put(f"{url}/languages", json={"languages": {"fil": "C2"}})
    assert replaced.json()["languages"] == {"fil": "C2"}
    seen = ops.get(url).json()
    assert (seen["skills"], seen["languages"], seen["shifts"]) == (
        {"data_entry": 4},
        {"fil": "C2"},
        [morning, night],
    )
    agent_id = uuid.UUID(agent["id"])
    with transaction(container.sessions) as session:
        stored = session.get_one(Agent, agent_id)
        assert (stored.name, stored.tier, stored.center_code) == ("Rosa Reyes", "analyst", "MNL")
        assert session.execute(
            select(AgentSkill.skill_code, AgentSkill.level).where(AgentSkill.agent_id == agent_id)
        ).all() == [("data_entry", 4)]
        assert session.execute(
            select(AgentLanguage.language, AgentLanguage.cefr).where(
                AgentLanguage.agent_id == agent_id
            )
        ).all() == [("fil", "C2")]
        assert len(session.scalars(select(Shift).where(Shift.agent_id == agent_id)).all()) == 2

    gone = ops.delete(url)
    assert gone.status_code == 200, gone.text
    assert gone.json()["active"] is False
    assert ops.delete(url).json()["active"] is False  # again: nothing more happens
    # A deactivated agent keeps their record but is changed no more.
    refused = ops.put(f"{url}/skills", json={"skills": {}})
    assert refused.status_code == 409, refused.text
    listed = {row["id"]: row["active"] for row in ops.get("/api/v1/agents").json()}
    assert listed[agent["id"]] is False

    actor = f"user:{_user_id(container, 'o@provider.example')}"
    clients = sorted({world.client_id, world.other_client_id})
    assert _trail(container, f"agent:{agent_id}") == [
        (
            "agent.create",
            actor,
            {
                "before": None,
                "after": {
                    "name": "Rosa Reyes",
                    "center_code": "MNL",
                    "tier": "analyst",
                    "user_id": None,
                },
            },
        ),
        ("agent.skills", actor, {"before": {}, "after": {"data_entry": 4}}),
        ("agent.languages", actor, {"before": {}, "after": {"en": "C1", "pt-BR": "B2"}}),
        ("agent.clearances", actor, {"before": [], "after": clients}),
        ("agent.shifts", actor, {"before": [], "after": [[0, 540, 540], [4, 1320, 480]]}),
        (
            "agent.languages",
            actor,
            {"before": {"en": "C1", "pt-BR": "B2"}, "after": {"fil": "C2"}},
        ),
        ("agent.deactivate", actor, {"before": {"active": True}, "after": {"active": False}}),
    ]
    with container.sessions() as session:
        assert audit.check(session, container.audit_key, PROVIDER) == {PROVIDER: []}


def test_validation_errors_name_the_field_and_change_nothing(
    api: Any, container: Container, world: World
) -> None:
    ops = api("ops")
    url = f"/api/v1/agents/{world.agent_id}"
    unknown_center = ops.post(
        "/api/v1/agents", json={"name": "X", "center_code": "ATL", "tier": "agent"}
    )
    assert "ATL" in _errors(unknown_center)["center_code"]
    assert "tier" in _errors(
        ops.post("/api/v1/agents", json={"name": "X", "center_code": "MNL", "tier": "boss"})
    )
    skills = _errors(ops.put(f"{url}/skills", json={"skills": {"data_entry": 5, "juggling": 2}}))
    assert skills == {"skills.juggling": "unknown skill 'juggling'"}
    assert set(_errors(ops.put(f"{url}/skills", json={"skills": {"data_entry": 6}}))) == {
        "skills.data_entry"
    }
    languages = _errors(ops.put(f"{url}/languages", json={"languages": {"en": "D1", "EN": "B1"}}))
    assert set(languages) == {"languages.en", "languages.EN"}
    assert "A1, A2, B1, B2, C1, C2" in languages["languages.en"]
    unknown_client = ops.put(f"{url}/clearances", json={"client_ids": [world.client_id, 999_999]})
    assert _errors(unknown_client) == {"client_ids.1": "unknown client 999999"}
    bad_shift = {"weekday": 7, "start_minute": 0, "duration_minutes": 1441}
    shifts = _errors(ops.put(f"{url}/shifts", json={"shifts": [ALL_WEEK[0], bad_shift]}))
    assert set(shifts) == {"shifts.1.weekday", "shifts.1.duration_minutes"}
    missing = ops.put(f"/api/v1/agents/{uuid.uuid4()}/skills", json={"skills": {}})
    assert missing.status_code == 404, missing.text
    # The agent is as the world made them: a refused change changed nothing.
    agent = ops.get(url).json()
    assert agent["skills"] == {"data_entry": 3} and agent["languages"] == {"en": "C1"}
    assert agent["client_ids"] == sorted({world.client_id, world.other_client_id})
    assert len(agent["shifts"]) == 7
    assert _trail(container, f"agent:{world.agent_id}") == []


def test_a_sign_in_is_a_provider_user_with_an_agent_role_and_no_profile_yet(
    api: Any, container: Container, world: World, server: str
) -> None:
    ops = api("ops")
    body = {"name": "Sam", "center_code": "MNL", "tier": "agent"}
    for email in ("c@insurer.example", "o@provider.example"):  # a client's user; no agent role
        refused = ops.post(
            "/api/v1/agents", json={**body, "user_id": str(_user_id(container, email))}
        )
        assert "user_id" in _errors(refused), email
    assert "user_id" in _errors(
        ops.post("/api/v1/agents", json={**body, "user_id": str(uuid.uuid4())})
    )
    taken = ops.post(
        "/api/v1/agents",
        json={**body, "user_id": str(_user_id(container, "a@provider.example"))},
    )
    assert taken.status_code == 409, taken.text
    assert [e["field"] for e in taken.json()["errors"]] == ["user_id"]

    user_id, token = _new_user(container, "lead@provider.example", "team_lead")
    linked = ops.post("/api/v1/agents", json={**body, "user_id": str(user_id)})
    assert linked.status_code == 201, linked.text
    assert linked.json()["user_id"] == str(user_id)
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as lead:
        assert lead.get("/api/v1/me").json()["agent_id"] == linked.json()["id"]
    again = ops.post("/api/v1/agents", json={**body, "user_id": str(user_id)})
    assert again.status_code == 409, again.text


def test_only_workforce_managers_change_agents(
    api: Any, container: Container, world: World
) -> None:
    url = f"/api/v1/agents/{world.agent_id}"
    changes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/agents", {"name": "X", "center_code": "MNL", "tier": "agent"}),
        ("PUT", f"{url}/skills", {"skills": {"data_entry": 5}}),
        ("PUT", f"{url}/languages", {"languages": {"en": "C2"}}),
        ("PUT", f"{url}/clearances", {"client_ids": []}),
        ("PUT", f"{url}/shifts", {"shifts": []}),
        ("DELETE", url, None),
    ]
    # An agent, a client's admin, and a security officer who may read the workforce only.
    for caller in ("agent", "client", "security"):
        for method, path, body in changes:
            answer = api(caller).request(method, path, json=body)
            assert answer.status_code == 403, (caller, method, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert api("security").get(url).status_code == 200
    assert api("agent").get(url).status_code == 403
    assert api("ops").get(url).json()["skills"] == {"data_entry": 3}
    with container.sessions() as session:
        assert session.scalars(select(Agent).where(Agent.name == "X")).first() is None


def test_a_change_holds_from_the_agents_next_claim(
    api: Any, container: Container, world: World, server: str
) -> None:
    """The clock stands still: without the dispatcher forgetting the agent's cached queues,
    each claim below would be answered from the first one's cache for 30 seconds."""
    ops = api("ops")
    user_id, token = _new_user(container, "new@provider.example", "agent")
    made = ops.post(
        "/api/v1/agents",
        json={"name": "Nia New", "center_code": "MNL", "tier": "agent", "user_id": str(user_id)},
    )
    assert made.status_code == 201, made.text
    url = f"/api/v1/agents/{made.json()['id']}"
    assert ops.put(f"{url}/shifts", json={"shifts": ALL_WEEK}).status_code == 200
    item = world.submit(container)
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as agent:

        def claim() -> httpx.Response:
            return agent.post("/api/v1/dispatch/claim")

        assert claim().status_code == 204  # no clearance, no skill: no queue
        assert ops.put(f"{url}/clearances", json={"client_ids": [world.client_id]}).is_success
        assert claim().status_code == 204  # cleared, but keying needs data entry at 2
        assert ops.put(f"{url}/skills", json={"skills": {"data_entry": 1}}).is_success
        assert claim().status_code == 204
        assert ops.put(f"{url}/skills", json={"skills": {"data_entry": 2}}).is_success
        leased = claim()
        assert leased.status_code == 200, leased.text
        assert leased.json()["item_id"] == str(item.id)

        # Taken away again: the next item is not theirs, from the next claim on.
        world.submit(container, "second")
        assert ops.put(f"{url}/clearances", json={"client_ids": []}).is_success
        assert claim().status_code == 204
        assert ops.put(f"{url}/clearances", json={"client_ids": [world.client_id]}).is_success
        assert ops.put(f"{url}/shifts", json={"shifts": []}).is_success  # off shift
        assert claim().status_code == 204
        assert ops.put(f"{url}/shifts", json={"shifts": ALL_WEEK}).is_success
        assert ops.delete(url).is_success
        refused = claim()
        assert refused.status_code == 404, refused.text  # deactivated: no agent to claim as


def test_the_dispatcher_forgets_only_the_changed_agent(
    api: Any, container: Container, world: World
) -> None:
    """The world's agent serves both clients; their cache entry goes when they change, and
    another agent's stays."""
    other = world.add_agents(container, 1)[0]
    with container.sessions() as session:
        dispatcher = container.dispatcher
        assert {c for c, _ in dispatcher.servable(session, world.agent_id)} == {
            world.client_id,
            world.other_client_id,
        }
        assert dispatcher.servable(session, other)
    answer = api("ops").put(
        f"/api/v1/agents/{world.agent_id}/clearances", json={"client_ids": [world.other_client_id]}
    )
    assert answer.status_code == 200, answer.text
    with transaction(container.sessions) as session:
        session.add(AgentClearance(client_id=world.other_client_id, agent_id=other))
    with container.sessions() as session:
        assert {c for c, _ in dispatcher.servable(session, world.agent_id)} == {
            world.other_client_id
        }
        # Changed behind the API's back: the other agent is still served from the cache.
        assert {c for c, _ in dispatcher.servable(session, other)} == {world.client_id}


def test_a_clearance_change_is_on_the_chain_of_each_client_it_grants_or_removes(
    api: Any, container: Container, world: World
) -> None:
    """A client's auditors verify and export that client's chain alone: who was given or
    lost access to its work is recorded there, with who changed it; another client's chain
    hears nothing of it, and every chain still verifies."""
    ops = api("ops")
    made = ops.post("/api/v1/agents", json={"name": "Cleo", "center_code": "MNL", "tier": "agent"})
    assert made.status_code == 201, made.text
    agent_id = made.json()["id"]
    url = f"/api/v1/agents/{agent_id}/clearances"
    client_a = world.client_id
    for client_ids in ([client_a], [client_a], []):  # granted, unchanged, revoked
        changed = ops.put(url, json={"client_ids": client_ids})
        assert changed.status_code == 200, changed.text

    def exported(client_id: int) -> list[dict[str, Any]]:
        answer = api("security").get("/api/v1/audit/records", params={"client_id": client_id})
        assert answer.status_code == 200, answer.text
        return [json.loads(line) for line in answer.text.splitlines()]

    actor = f"user:{_user_id(container, 'o@provider.example')}"
    on_a = [r for r in exported(client_a) if r["subject"] == f"agent:{agent_id}"]
    assert [(r["action"], r["actor"], r["data"]) for r in on_a] == [
        ("agent.clearance", actor, {"before": {"cleared": False}, "after": {"cleared": True}}),
        ("agent.clearance", actor, {"before": {"cleared": True}, "after": {"cleared": False}}),
    ]
    assert [r for r in exported(world.other_client_id) if r["action"].startswith("agent.")] == []
    # The provider's chain keeps the whole change, each time.
    assert [data["after"] for _, _, data in _trail(container, f"agent:{agent_id}")][1:] == [
        [client_a],
        [client_a],
        [],
    ]
    with container.sessions() as session:
        found = verify_trail(session, container.audit_key)
    assert {PROVIDER, client_a} <= set(found)
    assert all(findings == [] for findings in found.values()), found
