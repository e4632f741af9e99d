"""The API as a whole: declared permissions, problem details, tenant isolation, metrics."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tandem.app import ROUTERS, create_app
from tandem.container import Container
from tandem.core.config import ConfigError, load_settings
from tandem.http import current_principal
from tests.conftest import World


def _declared(route: APIRoute) -> bool:
    calls = [d.call for d in route.dependant.dependencies]
    return any(
        hasattr(c, "permission") or hasattr(c, "public_reason") or c is current_principal
        for c in calls
    )


def test_every_route_declares_its_permission(container: Container) -> None:
    app = create_app(container)
    routes = [
        r
        for r in [*app.routes, *(route for router in ROUTERS for route in router.routes)]
        if isinstance(r, APIRoute)
    ]
    assert len(routes) > 20
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if not _declared(r)]
    assert undeclared == []


def test_no_token_is_a_401_problem(api: Any) -> None:
    response = api("anonymous").get("/api/v1/work-items")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Unauthorized"
    bad = api("anonymous").get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_missing_permission_is_a_403_problem(api: Any) -> None:
    response = api("agent").get("/api/v1/work-items")
    assert response.status_code == 403
    assert "client:work_item:read" in response.json()["detail"]


def test_another_clients_item_looks_exactly_like_a_missing_one(api: Any, world: World) -> None:
    created = (
        api("client")
        .post(
            f"/api/v1/processes/{world.process_id}/work-items",
            json={"payload": {"document_ref": "secret.pdf"}},
        )
        .json()
    )
    theirs = api("other_client").get(f"/api/v1/work-items/{created['id']}")
    missing = api("other_client").get(f"/api/v1/work-items/{uuid.uuid4()}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["title"] == missing.json()["title"]
    assert "secret" not in theirs.text
    assert api("other_client").get("/api/v1/work-items").json() == []
    assert api("other_client").get(f"/api/v1/processes/{world.process_id}").status_code == 404
    assert (
        api("other_client")
        .post(
            f"/api/v1/processes/{world.process_id}/work-items",
            json={"payload": {"document_ref": "x"}},
        )
        .status_code
        == 404
    )
    assert [p["client_id"] for p in api("other_client").get("/api/v1/processes").json()] == [
        world.other_client_id
    ]
    assert len(api("ops").get("/api/v1/work-items").json()) == 1


def test_validation_errors_name_the_field(api: Any, world: World) -> None:
    response = api("client").post(f"/api/v1/processes/{world.process_id}/work-items", json={})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "payload"


def test_metrics_and_docs(api: Any, world: World) -> None:
    api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items", json={"payload": {"document_ref": "x"}}
    )
    assert api("anonymous").get("/metrics").status_code == 401  # it names clients
    assert api("client").get("/metrics").status_code == 403
    text = api("ops").get("/metrics").text
    assert 'tandem_queue_depth{client="insurer",process="keying",state="queued"} 1.0' in text
    assert "tandem_items_received_total" in text
    assert api("anonymous").get("/docs").status_code == 200
    assert "/api/v1/dispatch/claim" in api("anonymous").get("/openapi.json").json()["paths"]


def test_bad_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="TANDEM_DATABASE_URL"):
        load_settings()
    monkeypatch.setenv("TANDEM_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("TANDEM_PORT", "99999")
    with pytest.raises(ConfigError, match="TANDEM_PORT"):
        load_settings()
