"""Client systems' API keys over HTTP: one client, the permissions given and no more,
shown once, stored hashed, revocable, and audited."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import ApiKey
from tandem.tenancy.permissions import ROLES
from tests.conftest import World

PERMISSIONS = ["client:work_item:create", "client:work_item:read"]


def _key_client(server: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_a_key_acts_for_its_client_with_exactly_its_permissions(
    api: Any, world: World, server: str, container: Container
) -> None:
    made = api("client").post("/api/v1/api-keys", json={"name": "ERP", "permissions": PERMISSIONS})
    assert made.status_code == 201, made.text
    body = made.json()
    key = body["key"]
    assert key.startswith("tdk_") and body["client_id"] == world.client_id
    assert body["permissions"] == PERMISSIONS
    with _key_client(server, key) as erp:
        created = erp.post(
            f"/api/v1/processes/{world.process_id}/work-items",
            json={"payload": {"document_ref": "erp-1.pdf"}},
        )
        assert created.status_code == 201, created.text
        assert erp.get(f"/api/v1/work-items/{created.json()['id']}").status_code == 200
        # Not given: exporting, managing webhooks, reading processes.
        assert erp.get(f"/api/v1/processes/{world.process_id}").status_code == 403
        assert (
            erp.post("/api/v1/webhooks", json={"url": "https://erp.example/hook"}).status_code
            == 403
        )
        # Another client's process is not there at all: answered as a process that does not
        # exist is, 404 naming the id asked for.
        other = erp.post(
            f"/api/v1/processes/{world.other_process_id}/work-items",
            json={"payload": {"document_ref": "x"}},
        )
        missing_id = uuid.uuid4()
        missing = erp.post(
            f"/api/v1/processes/{missing_id}/work-items",
            json={"payload": {"document_ref": "x"}},
        )
        assert other.status_code == missing.status_code == 404
        assert other.json() == {
            **json.loads(missing.text.replace(str(missing_id), str(world.other_process_id))),
            "request_id": other.json()["request_id"],  # each answer's own
        }
        me = erp.get("/api/v1/me").json()
        assert me["role"] == "api_key" and me["permissions"] == PERMISSIONS
    listed = api("client").get("/api/v1/api-keys").json()
    assert [k["name"] for k in listed] == ["ERP"] and "key" not in listed[0]
    with transaction(container.sessions) as session:
        stored = session.scalars(select(ApiKey.key_hash)).one()
        actions = session.scalars(select(AuditRecord.action)).all()
    assert key not in stored and len(stored) == 64  # only its SHA-256
    assert actions == ["api_key.create"]


def test_revoking_a_key_shuts_it_out_at_once(api: Any, world: World, server: str) -> None:
    made = (
        api("client")
        .post("/api/v1/api-keys", json={"name": "ERP", "permissions": PERMISSIONS})
        .json()
    )
    assert api("other_client").delete(f"/api/v1/api-keys/{made['id']}").status_code == 404
    with _key_client(server, made["key"]) as erp:
        assert erp.get("/api/v1/me").status_code == 200
        revoked = api("client").delete(f"/api/v1/api-keys/{made['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert erp.get("/api/v1/me").status_code == 401


def test_a_key_gets_only_client_permissions_its_maker_holds(api: Any, world: World) -> None:
    refused = api("client").post(
        "/api/v1/api-keys",
        json={
            "name": "too much",
            "permissions": [
                "client:work_item:read",
                "provider:audit:read",
                "agent:work_item:claim",
            ],
        },
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["permissions[1]", "permissions[2]"]
    empty = api("client").post("/api/v1/api-keys", json={"name": "none", "permissions": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "permissions"
    # A client admin cannot make a key for another client; agents cannot make keys at all.
    other = api("client").post(
        "/api/v1/api-keys",
        json={"name": "x", "permissions": PERMISSIONS, "client_id": world.other_client_id},
    )
    assert other.status_code == 404
    assert (
        api("agent")
        .post("/api/v1/api-keys", json={"name": "x", "permissions": PERMISSIONS})
        .status_code
        == 403
    )


def test_a_key_never_mints_a_user_stronger_than_itself(api: Any, world: World, server: str) -> None:
    """A key allowed to manage the client's users may create and promote users only into
    roles whose every permission it holds itself (before: a key could create a client admin
    and so gain, through that user, everything an admin may do)."""
    narrow = ["client:user:manage", "client:work_item:read", "client:process:read"]
    made = api("client").post("/api/v1/api-keys", json={"name": "HR sync", "permissions": narrow})
    assert made.status_code == 201, made.text
    with _key_client(server, made.json()["key"]) as key:
        admin = key.post(
            "/api/v1/users",
            json={"email": "boss@insurer.example", "name": "Boss", "role": "client_admin"},
        )
        assert admin.status_code == 403
        assert "client:api_key:manage" in admin.json()["detail"]
        user = key.post(
            "/api/v1/users",
            json={"email": "u@insurer.example", "name": "U", "role": "client_user"},
        )
        assert user.status_code == 403  # a client user may create work items: the key may not
    client_user = sorted(p.value for p in ROLES["client_user"])
    wide = api("client").post(
        "/api/v1/api-keys",
        json={"name": "HR sync 2", "permissions": ["client:user:manage", *client_user]},
    )
    assert wide.status_code == 201, wide.text
    with _key_client(server, wide.json()["key"]) as key:
        user = key.post(
            "/api/v1/users",
            json={"email": "u@insurer.example", "name": "U", "role": "client_user"},
        )
        assert user.status_code == 201, user.text
        promoted = key.put(f"/api/v1/users/{user.json()['id']}/role", json={"role": "client_admin"})
        assert promoted.status_code == 403


def test_when_a_key_was_last_used_is_kept_to_within_five_minutes(
    api: Any, world: World, server: str, container: Container
) -> None:
    made = (
        api("client")
        .post("/api/v1/api-keys", json={"name": "ERP", "permissions": PERMISSIONS})
        .json()
    )
    assert made["last_used_at"] is None

    def last_used() -> Any:
        [key] = api("client").get("/api/v1/api-keys").json()
        return key["last_used_at"]

    with _key_client(server, made["key"]) as erp:
        assert erp.get("/api/v1/me").status_code == 200
        first = last_used()
        assert first is not None
        container.clock.advance(timedelta(minutes=4))
        assert erp.get("/api/v1/me").status_code == 200
        assert last_used() == first  # not written at each request
        container.clock.advance(timedelta(minutes=2))
        assert erp.get("/api/v1/me").status_code == 200
    assert last_used() > first
