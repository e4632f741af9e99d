"""Operations acting on work over the real HTTP stack: each action of an ops manager (set the
priority, hold and resume, take a lease back, reassign to an agent or a queue, cancel; one
action on a selection), its permission (agents and client users are refused), its audit
record, and problem details naming the field."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tests.conftest import World


def _new(api: Any, world: World, ref: str) -> str:
    created = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": f"{ref}.pdf"}, "external_ref": ref},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _audited(container: Container, item_id: str) -> list[tuple[str, dict[str, Any]]]:
    with transaction(container.sessions) as session:
        return [
            (record.action, record.data)
            for record in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.subject == f"work_item:{item_id}")
                .order_by(AuditRecord.seq)
            )
        ]


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_ops_manager_acts_on_an_item_and_each_action_is_audited(
    api: Any, world: World, container: Container
) -> None:
    ops = api("ops")
    item = _new(api, world, "APP-1")
    url = f"/api/v1/work-items/{item}"
    assert _ok(ops.post(f"{url}/priority", json={"priority": 12}))["priority"] == 12
    assert _ok(ops.post(f"{url}/hold", json={"reason": "scan unreadable"}))["state"] == "waiting"
    assert _ok(ops.post(f"{url}/resume"))["state"] == "queued"
    leased = _ok(ops.post(f"{url}/reassign", json={"agent_id": str(world.agent_id)}))
    assert leased["state"] == "leased" and leased["attempt"] == 1
    mine = api("agent").get("/api/v1/dispatch/leases").json()
    assert [lease["item_id"] for lease in mine] == [item]
    back = _ok(ops.post(f"{url}/release", json={"reason": "shift over"}))
    assert back["state"] == "queued"
    lost = api("agent").post(f"/api/v1/leases/{item}/heartbeat", json={"attempt": 1})
    assert lost.status_code == 409 and lost.json()["title"] == "Lease lost"
    assert _ok(ops.post(f"{url}/cancel", json={"reason": "sent twice"}))["state"] == "cancelled"
    assert [action for action, _ in _audited(container, item)] == [
        "work_item.priority",
        "work_item.hold",
        "work_item.resume",
        "work_item.assign",
        "work_item.release",
        "work_item.cancel",
    ]
    audited = dict(_audited(container, item))
    assert audited["work_item.priority"] == {"priority": 12, "before": 0}
    assert audited["work_item.release"] == {
        "reason": "shift over",
        "lease_owner": str(world.agent_id),
    }
    events = ops.get(f"{url}/events").json()
    assert [(e["from_state"], e["to_state"]) for e in events][-5:] == [
        ("queued", "waiting"),
        ("waiting", "queued"),
        ("queued", "leased"),
        ("leased", "queued"),
        ("queued", "cancelled"),
    ]


def test_agents_and_client_users_may_not_operate(api: Any, world: World) -> None:
    item = _new(api, world, "APP-2")
    url = f"/api/v1/work-items/{item}"
    calls = [
        (f"{url}/priority", {"priority": 3}),
        (f"{url}/release", {}),
        (f"{url}/reassign", {"agent_id": str(world.agent_id)}),
        ("/api/v1/work-items/bulk", {"ids": [item], "action": "resume"}),
    ]
    for who in ("agent", "client", "other_client"):
        for path, body in calls:
            refused = api(who).post(path, json=body)
            assert refused.status_code == 403, (who, path, refused.text)
            assert "provider:work_item:operate" in refused.json()["detail"]
    # The staff's pages of items: not for an agent, nor for a client's people (the portal).
    for page in ("/console/items", f"/console/items/{item}"):
        assert api("agent").get(page).status_code == 403
        assert api("client").get(page).status_code == 404
        shown = api("ops").get(page)
        assert shown.status_code == 200 and "APP-2" in shown.text
    # Holding and cancelling stay the client's own to do on its items, as before.
    assert api("agent").post(f"{url}/hold", json={"reason": "x"}).status_code == 403
    assert api("other_client").post(f"{url}/hold", json={"reason": "x"}).status_code == 404
    assert _ok(api("client").post(f"{url}/hold", json={"reason": "ask us"}))["state"] == "waiting"


def test_refusals_are_problems_naming_the_field(api: Any, world: World) -> None:
    ops = api("ops")
    item = _new(api, world, "APP-3")
    url = f"/api/v1/work-items/{item}"

    def problem(response: Any, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body: dict[str, Any] = response.json()
        return body

    def field(response: Any) -> str:
        return str(problem(response, 422)["errors"][0]["field"])

    assert field(ops.post(f"{url}/priority", json={"priority": 5000})) == "priority"
    assert field(ops.post(f"{url}/priority", json={})) == "priority"
    assert field(ops.post(f"{url}/reassign", json={})) == "agent_id"
    both = {"agent_id": str(world.agent_id), "routing_key": "keying"}
    assert field(ops.post(f"{url}/reassign", json=both)) == "agent_id"
    stranger = ops.post(f"{url}/reassign", json={"agent_id": str(uuid.uuid4())})
    assert field(stranger) == "agent_id"
    assert "no active agent" in stranger.json()["errors"][0]["message"]
    nowhere = ops.post(f"{url}/reassign", json={"routing_key": "nowhere"})
    assert field(nowhere) == "routing_key"
    assert "keying" in nowhere.json()["errors"][0]["message"]
    not_leased = problem(ops.post(f"{url}/release", json={}), 409)
    assert not_leased["state"] == "queued" and "not leased" in not_leased["detail"]
    assert field(ops.post(f"{url}/hold", json={})) == "reason"
    bulk = "/api/v1/work-items/bulk"
    assert field(ops.post(bulk, json={"ids": [item], "action": "hold"})) == "reason"
    assert field(ops.post(bulk, json={"ids": [item], "action": "priority"})) == "priority"
    assert field(ops.post(bulk, json={"ids": [item], "action": "delete"})) == "action"
    many = [str(uuid.uuid4()) for _ in range(501)]
    assert field(ops.post(bulk, json={"ids": many, "action": "resume"})) == "ids"
    assert field(ops.post(bulk, json={"ids": [], "action": "resume"})) == "ids"
    ops.post(f"{url}/cancel", json={"reason": "gone"})
    done = problem(ops.post(f"{url}/priority", json={"priority": 1}), 409)
    assert done["state"] == "cancelled"
    missing = ops.post(f"/api/v1/work-items/{uuid.uuid4()}/priority", json={"priority": 1})
    assert problem(missing, 404)["title"] == "Not found"


def test_one_action_on_a_selection_reports_each_item(
    api: Any, world: World, container: Container
) -> None:
    ops = api("ops")
    items = [_new(api, world, f"BULK-{n}") for n in range(4)]
    ops.post(f"/api/v1/work-items/{items[3]}/cancel", json={"reason": "sent twice"})
    theirs = api("other_client").post(
        f"/api/v1/processes/{world.other_process_id}/work-items",
        json={"payload": {"document_ref": "r.pdf"}},
    )
    missing = str(uuid.uuid4())
    body = {
        "ids": [*items, missing, theirs.json()["id"]],
        "action": "cancel",
        "reason": "the client withdrew the batch",
    }
    outcome = _ok(ops.post("/api/v1/work-items/bulk", json=body))
    assert (outcome["action"], outcome["done"], outcome["refused"]) == ("cancel", 4, 2)
    by_id = {entry["id"]: entry for entry in outcome["items"]}
    for n in range(3):
        entry = by_id[items[n]]
        assert entry["outcome"] == "done" and entry["state"] == "cancelled"
        assert entry["external_ref"] == f"BULK-{n}" and entry["detail"] == "cancelled"
    refused = by_id[items[3]]
    assert refused["outcome"] == "refused"
    assert refused["detail"] == "it is cancelled: it cannot be cancelled"
    assert by_id[missing] == {
        "id": missing,
        "outcome": "refused",
        "detail": f"work item {missing} not found",
        "external_ref": None,
        "state": None,
    }
    assert by_id[theirs.json()["id"]]["outcome"] == "done"  # ops serve every client
    for n in range(3):
        assert _audited(container, items[n])[-1] == (
            "work_item.cancel",
            {"reason": "the client withdrew the batch", "state": "queued"},
        )
    # A staff list by client: the insurer's items alone, how many in the header.
    listed = ops.get("/api/v1/work-items", params={"client_id": world.client_id})
    assert listed.headers["X-Total-Count"] == "4"
    assert {entry["client_id"] for entry in listed.json()} == {world.client_id}
