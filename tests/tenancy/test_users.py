"""Users and roles over HTTP: who may manage whom, and every change in the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tandem.audit.models import PROVIDER, AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.service import create_user, issue_token
from tests.conftest import World


def _trail(container: Container, client_id: int) -> list[tuple[str, dict[str, Any]]]:
    with transaction(container.sessions) as session:
        return [
            (record.action, record.data)
            for record in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.client_id == client_id, AuditRecord.action.like("user.%"))
                .order_by(AuditRecord.seq)
            )
        ]


def _admin(container: Container, server: str) -> httpx.Client:
    with transaction(container.sessions) as session:
        now = container.clock.now()
        user = create_user(
            session, email="root@provider.example", name="Root", role="provider_admin", now=now
        )
        token = issue_token(session, user.id, "test", now)
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"})


def test_a_client_admin_manages_the_clients_own_users_in_client_roles(
    api: Any, container: Container, world: World, server: str
) -> None:
    admin = api("client")
    body = {"email": "Jo@Insurer.example", "name": "Jo", "role": "client_user"}
    created = admin.post("/api/v1/users", json={**body, "password": "a long passphrase!"})
    assert created.status_code == 201, created.text
    jo = created.json()
    assert (jo["email"], jo["client_id"], jo["active"]) == (
        "jo@insurer.example",
        world.client_id,
        True,
    )
    signed_in = httpx.post(
        f"{server}/api/v1/auth/sign-in",
        json={"email": "jo@insurer.example", "password": "a long passphrase!"},
    )
    assert signed_in.status_code == 200
    # Not a provider role, not another client, not a role that does not exist.
    for refused, status in (
        ({**body, "email": "x@insurer.example", "role": "agent"}, 403),
        (
            {**body, "email": "y@insurer.example", "client_id": world.other_client_id},
            403,
        ),
        ({**body, "email": "z@insurer.example", "role": "overlord"}, 422),
    ):
        answer = admin.post("/api/v1/users", json=refused)
        assert answer.status_code == status, answer.text
    emails = {user["email"] for user in admin.get("/api/v1/users").json()}
    assert emails == {"c@insurer.example", "jo@insurer.example"}
    promoted = admin.put(f"/api/v1/users/{jo['id']}/role", json={"role": "client_admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "client_admin"
    assert admin.put(f"/api/v1/users/{jo['id']}/role", json={"role": "agent"}).status_code == 422
    with transaction(container.sessions) as session:
        own = session.scalars(select(User.id).where(User.email == "c@insurer.example")).one()
        theirs = session.scalars(select(User.id).where(User.email == "c@retailer.example")).one()
    assert admin.put(f"/api/v1/users/{own}/role", json={"role": "client_user"}).status_code == 409
    missing = admin.put(f"/api/v1/users/{theirs}/role", json={"role": "client_user"})
    assert missing.status_code == 404
    assert _trail(container, world.client_id) == [
        ("user.create", {"role": "client_user", "email": "jo@insurer.example"}),
        ("user.role_change", {"before": "client_user", "after": "client_admin"}),
    ]
    assert api("agent").get("/api/v1/users").status_code == 403


def test_a_provider_admin_changes_staff_roles_and_deactivation_ends_access_at_once(
    api: Any, container: Container, world: World, server: str
) -> None:
    with transaction(container.sessions) as session:
        agent = session.scalars(select(User.id).where(User.email == "a@provider.example")).one()
        client = session.scalars(select(User.id).where(User.email == "c@insurer.example")).one()
    with _admin(container, server) as root:
        changed = root.put(f"/api/v1/users/{agent}/role", json={"role": "qa_reviewer"})
        assert changed.status_code == 200, changed.text
        assert api("agent").get("/api/v1/me").json()["role"] == "qa_reviewer"
        misfit = root.put(f"/api/v1/users/{client}/role", json={"role": "agent"})
        assert misfit.status_code == 422 and "does not fit" in misfit.text
        assert len(root.get("/api/v1/users").json()) == 7  # every user, both clients' too
        assert root.delete(f"/api/v1/users/{agent}").json()["active"] is False
    assert api("agent").get("/api/v1/me").status_code == 401
    assert (
        _trail(container, PROVIDER)
        == [
            ("user.create", {"role": "provider_admin", "email": "root@provider.example"}),
            ("user.role_change", {"before": "agent", "after": "qa_reviewer"}),
            ("user.deactivate", {"role": "qa_reviewer"}),
        ][1:]
    )
