"""What Schemathesis found reaching the database or overflowing (tests/test_schemathesis.py):
each is now refused as invalid input naming the field, or answered 404/409, never a 500.
Through the real server; the NUL and integer cases matter most on PostgreSQL, which keeps
no NUL in text and whose integer columns hold 32 bits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tandem.container import Container
from tandem.decisions import underwriting as uw
from tandem.http import MAX_INT
from tests.conftest import World
from tests.test_schemathesis import _provider_admin

NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


@pytest.fixture
def admin(container: Container, world: World, server: str) -> Any:
    token = _provider_admin(container, world)
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


def test_every_error_answer_is_documented_as_problem_details(api: Any) -> None:
    """Not FastAPI's default 422 (HTTPValidationError), which the app never sends."""
    doc = api("anonymous").get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert {"400", "401", "403", "404", "409", "422", "429"} <= set(responses), path
            for status, response in responses.items():
                if status.startswith("4"):
                    content = response["content"]
                    assert list(content) == ["application/problem+json"], (method, path, status)
                    schema = content["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}


def test_a_nul_anywhere_in_a_request_is_invalid_input_naming_the_field(
    api: Any, world: World
) -> None:
    client = api("client")
    items = f"/api/v1/processes/{world.process_id}/work-items"
    nested = client.post(items, json={"payload": {"document_ref": "a\x00b"}, "external_ref": "x"})
    assert _fields(nested) == ["payload.document_ref"]
    assert nested.json()["errors"][0]["message"] == NUL_MESSAGE
    both = client.post(items, json={"payload": {"document_ref": "ok"}, "external_ref": "\x00"})
    assert _fields(both) == ["external_ref"]
    listed = client.post(
        "/api/v1/api-keys", json={"name": "k", "permissions": ["client:work_item:read\x00"]}
    )
    assert _fields(listed) == ["permissions.0"]
    assert _fields(api("ops").get("/api/v1/agents", params={"center": "M\x00"})) == ["query.center"]
    signing_in = {"email": "c@insurer.example\x00", "password": "x"}
    assert _fields(api("anonymous").post("/api/v1/auth/sign-in", json=signing_in)) == ["email"]
    assert client.get("/api/v1/work-items").json() == []  # nothing was stored


def test_integers_past_the_database_columns_are_invalid_input(
    api: Any, admin: httpx.Client, world: World
) -> None:
    assert _fields(api("client").get("/api/v1/work-items", params={"offset": 2**63})) == [
        "query.offset"
    ]
    assert api("client").get("/api/v1/work-items", params={"offset": MAX_INT}).json() == []
    assert _fields(admin.get("/api/v1/audit/check", params={"client_id": 2**31})) == [
        "query.client_id"
    ]
    lease = f"/api/v1/leases/{world.process_id}"
    for action in ("heartbeat", "release", "submit"):
        body: dict[str, Any] = {"attempt": 2**31, "result": {}}
        assert _fields(admin.post(f"{lease}/{action}", json=body)) == ["attempt"]
    hook = {"url": "https://hooks.example/x", "client_id": 2**31}
    assert _fields(admin.post("/api/v1/webhooks", json=hook)) == ["client_id"]


def test_a_client_that_does_not_exist_is_not_found(admin: httpx.Client) -> None:
    """Provider staff name the client: an unknown one was a foreign key violation."""
    hook = admin.post("/api/v1/webhooks", json={"url": "https://h.example/x", "client_id": 999})
    assert hook.status_code == 404, hook.text
    process = admin.post(
        "/api/v1/processes",
        json={
            "client_id": 999,
            "code": "keying2",
            "name": "Keying",
            "kind": "data_entry",
            "input_schema": uw.INPUT_SCHEMA,
            "form_schema": uw.RESULT_FORM,
            "sla_minutes": 60,
        },
    )
    assert process.status_code == 404, process.text


def test_process_numbers_stay_within_what_is_kept_and_computed(api: Any, world: World) -> None:
    client = api("client")
    process = {
        "code": "long",
        "name": "Long",
        "kind": "data_entry",
        "input_schema": {"type": "object", "properties": {"ref": {"type": "string"}}},
        "form_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        "required_skills": {"data_entry": 2},
        "sla_minutes": 366 * 24 * 60 + 1,
    }
    assert _fields(client.post("/api/v1/processes", json=process)) == ["sla_minutes"]
    for field, value in (("priority", 2**31), ("price_per_item", "10000000")):
        refused = client.post(
            "/api/v1/processes", json={**process, "sla_minutes": 60, field: value}
        )
        assert _fields(refused) == [field]
    # The longest SLA allowed, in business hours, still gives a due time.
    made = client.post("/api/v1/processes", json={**process, "sla_minutes": 366 * 24 * 60})
    assert made.status_code == 201, made.text
    terms = f"/api/v1/processes/{made.json()['id']}/terms"
    agreed = api("ops").put(terms, json={"sla_minutes": 366 * 24 * 60})
    assert agreed.status_code == 200, agreed.text
    item = client.post(f"/api/v1/processes/{made.json()['id']}/work-items", json={"payload": {}})
    assert item.status_code == 201, item.text


def test_quality_windows_take_moments_that_exist_in_utc(api: Any) -> None:
    client = api("client")
    for params in (
        {"since": "2026-03-01T00:00:00"},  # no offset: which moment?
        {"since": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"until": "9999-12-31T23:59:59-14:00"},  # after year 9999 in UTC
    ):
        for path in ("/api/v1/quality/report", "/api/v1/quality/accuracy"):
            assert _fields(client.get(path, params=params)) == [f"query.{next(iter(params))}"]
    earliest = client.get("/api/v1/quality/report", params={"until": "0001-01-01T00:01:00Z"})
    assert earliest.status_code == 200, earliest.text  # the 30 days before start at year 1


def test_an_aoql_no_sampling_plan_reaches_is_invalid_input(api: Any, world: World) -> None:
    policy = f"/api/v1/processes/{world.process_id}/quality-policy"
    refused = api("ops").put(policy, json={"mode": "sampling", "aoql": 1e-9})
    assert _fields(refused) == ["aoql"]
    lowest = api("ops").put(policy, json={"mode": "sampling", "aoql": 0.0001})
    assert lowest.status_code == 200, lowest.text
    assert lowest.json()["example_plan"]["aoql"] <= 0.0001


def test_a_second_test_case_of_the_same_name_is_a_conflict(api: Any) -> None:
    client = api("client")
    process = client.post(
        "/api/v1/processes",
        json={
            "code": "underwriting",
            "name": "Underwriting",
            "kind": "decision",
            "input_schema": uw.INPUT_SCHEMA,
            "form_schema": uw.RESULT_FORM,
            "required_skills": {"data_entry": 2},
            "sla_minutes": 480,
            "sla_mode": "24x7",
        },
    )
    assert process.status_code == 201, process.text
    draft = client.post(
        f"/api/v1/processes/{process.json()['id']}/rulesets", json={"graph": uw.graph()}
    )
    assert draft.status_code == 201, draft.text
    name, data, expected = uw.tests()[0]
    test = {"name": name, "input": data, "expected": expected}
    tests = f"/api/v1/rulesets/{draft.json()['id']}/tests"
    assert client.post(tests, json=test).status_code == 201
    again = client.post(tests, json=test)
    assert again.status_code == 409, again.text
    assert name in again.json()["detail"]
