"""The read side of gold items and agents' standing over the real server (issue 16): a
process's gold items listed masked, with who added them and each copy's score from real
submits; a gold item made from a delivered item, its input and result taken on the server;
retiring one; each agent's CSP-1 phase moving from screening to sampling as reviews pass;
and who may read what (a client's people never see agents; another client's process is
not found)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Forbidden, NotFound
from tandem.quality import gold, reviews, standing
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tests.conftest import RESULT, World
from tests.documents.samples import pdf
from tests.documents.test_service import hand_over
from tests.quality.conftest import (
    GOLD_PAYLOAD,
    MASKED,
    Person,
    claim_copy,
    personal_process,
    seed,
    seeded_copies,
    set_policy,
    work,
)

WRONG = {**RESULT, "coverage_amount": 205000}


def _listed(api: Any, process_id: uuid.UUID, who: str = "ops") -> Any:
    return api(who).get("/api/v1/quality/gold-items", params={"process_id": str(process_id)})


def _submit(api: Any, lease: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    done = api("agent").post(
        f"/api/v1/leases/{lease['item_id']}/submit",
        json={"attempt": lease["attempt"], "result": result},
    )
    assert done.status_code == 200, done.text
    answer: dict[str, Any] = done.json()
    return answer


def test_gold_items_are_listed_masked_with_who_added_them_and_each_copy_scored(
    container: Container, world: World, api: Any
) -> None:
    process_id = personal_process(container, world)
    added = api("ops").post(
        "/api/v1/quality/gold-items",
        json={"process_id": str(process_id), "payload": GOLD_PAYLOAD, "answer": RESULT},
    )
    assert added.status_code == 201, added.text
    gold_id = added.json()["id"]
    listed = _listed(api, process_id)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()
    assert (item["id"], item["payload"], item["answer"], item["active"]) == (
        gold_id,
        MASKED,  # as reviewers see payloads: personal fields masked
        RESULT,
        True,
    )
    assert (item["added_by"], item["copies"], item["scores"]) == ("O", 0, [])

    # Two copies slipped into the queue, keyed by the agent: one wrong, one right.
    for result in (WRONG, RESULT):
        copies = seeded_copies(container, world, process_id)
        lease = claim_copy(api, copies)
        assert _submit(api, lease, result)["state"] == State.CANCELLED.value  # scored, retired
        container.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    (item,) = _listed(api, process_id).json()
    assert (item["copies"], item["right"], item["wrong"], item["unscored"]) == (2, 1, 1, 0)
    latest, first = item["scores"]
    assert (latest["right"], latest["wrong_fields"]) == (True, [])
    assert (first["right"], first["wrong_fields"]) == (False, ["coverage_amount"])
    assert {latest["agent_name"], first["agent_name"]} == {"Test Agent"}
    assert latest["agent_id"] == str(world.agent_id)
    assert latest["scored_at"] > first["scored_at"]

    # Retired: listed as such, audited, and no more copies are made of it.
    retired = api("ops").patch(f"/api/v1/quality/gold-items/{gold_id}", json={"active": False})
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert _listed(api, process_id).json()[0]["active"] is False
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    seed(container)
    with transaction(container.sessions) as session:
        actions = session.scalars(
            select(AuditRecord.action).where(AuditRecord.subject == f"gold_item:{gold_id}")
        ).all()
    assert actions == ["gold_item.add", "gold_item.retire"]
    again = api("ops").patch(f"/api/v1/quality/gold-items/{gold_id}", json={"active": True})
    assert again.json()["active"] is True

    # Who may not: a client's people (403), an unknown process or gold item (404).
    assert _listed(api, process_id, "client").status_code == 403
    assert _listed(api, process_id, "agent").status_code == 403
    missing = uuid.uuid4()
    assert _listed(api, missing).status_code == 404
    refused = api("client").patch(f"/api/v1/quality/gold-items/{gold_id}", json={"active": False})
    assert refused.status_code == 403
    assert (
        api("ops").patch(f"/api/v1/quality/gold-items/{missing}", json={"active": False})
    ).status_code == 404


def test_a_gold_item_made_from_a_delivered_item_takes_its_input_and_result(
    container: Container, world: World, api: Any
) -> None:
    scanned = hand_over(api, world, pdf(1), name="scan-55556666.pdf").json()["id"]
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["item_id"] == scanned
    assert _submit(api, lease, RESULT)["state"] == "delivered"
    listed = api("ops").get(
        "/api/v1/quality/gold-items", params={"process_id": str(world.process_id)}
    )
    assert listed.json() == []
    nothing = api("ops").post(
        "/api/v1/quality/gold-items", json={"process_id": str(world.process_id)}
    )
    assert nothing.status_code == 422
    assert sorted(e["field"] for e in nothing.json()["errors"]) == ["answer", "payload"]
    made = api("ops").post(
        "/api/v1/quality/gold-items",
        json={"process_id": str(world.process_id), "from_item_id": scanned},
    )
    assert made.status_code == 201, made.text
    assert made.json()["id"] == scanned  # the known-answer version of the item
    assert made.json()["payload"] == {"document_ref": "scan-55556666.pdf"}
    assert made.json()["answer"] == RESULT  # its delivered result
    (item,) = _listed(api, world.process_id).json()
    assert item["id"] == scanned and item["added_by"] == "O"


def _reviewed(container: Container, world: World, reviewer: Principal, agent: uuid.UUID) -> Any:
    """One item of the insurer's keying worked by `agent` and passed by the reviewer, if it
    is reviewed; the submitted item's state."""
    world.submit(container)
    ref = work(container, agent)
    if ref.state is State.IN_REVIEW:
        with container.context(reviewer) as ctx:
            reviews.review(
                ctx, ref.id, failures=[], verdict="deliver", lease=container.dispatcher.lease
            )
    return ref.state


def _standing(api: Any, process_id: uuid.UUID, who: str = "ops") -> Any:
    return api(who).get("/api/v1/quality/standing", params={"process_id": str(process_id)})


def test_an_agents_standing_moves_from_screening_to_sampling_for_provider_staff_only(
    container: Container, world: World, api: Any, person: Any
) -> None:
    set_policy(container, world.process_id, "sampling", aoql=0.2, min_accuracy=0.9)
    reviewer: Person = person("qa_reviewer")
    assert _standing(api, world.process_id).json()["agents"] == []
    for _ in range(3):
        assert _reviewed(container, world, reviewer.principal, world.agent_id) is State.IN_REVIEW
    seen = _standing(api, world.process_id)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["mode"], body["min_accuracy"], body["window"]) == ("sampling", 0.9, 50)
    (agent,) = body["agents"]
    assert (agent["agent_id"], agent["agent_name"], agent["phase"]) == (
        str(world.agent_id),
        "Test Agent",
        "screening",
    )
    clearance = agent["clearance"]
    assert agent["passes_in_a_row"] == 3 and clearance > 3
    assert (agent["recent_checked"], agent["recent_failed"], agent["accuracy"]) == (3, 0, 1.0)
    for _ in range(clearance - 3):
        _reviewed(container, world, reviewer.principal, world.agent_id)
    (agent,) = _standing(api, world.process_id).json()["agents"]
    assert agent["phase"] == "sampling" and agent["reviewed"] == clearance
    assert agent["fraction"] == pytest.approx(0.01) and agent["open_alerts"] == 0

    lead: Person = person("team_lead")
    as_lead = api("ops").get(
        "/api/v1/quality/standing",
        params={"process_id": str(world.process_id)},
        headers={"Authorization": f"Bearer {lead.token}"},
    )
    assert as_lead.status_code == 200 and len(as_lead.json()["agents"]) == 1
    assert _standing(api, world.process_id, "client").status_code == 403
    assert _standing(api, world.other_process_id, "other_client").status_code == 403
    assert _standing(api, world.process_id, "agent").status_code == 403
    assert _standing(api, uuid.uuid4()).status_code == 404
    assert _standing(api, world.other_process_id).json()["agents"] == []


def test_the_use_cases_refuse_what_the_routes_permissions_would_let_through(
    container: Container, world: World
) -> None:
    """Should a client's principal ever hold these permissions (an API key's scopes), the
    use cases still answer: agents' standing never, another client's process not found."""
    scoped = Principal(
        uuid.uuid4(),
        "api_key",
        world.other_client_id,
        None,
        scopes=frozenset({Permission.AGENT_QUALITY_READ, Permission.QUALITY_MANAGE}),
    )
    with container.context(scoped) as ctx, pytest.raises(Forbidden):
        standing.standings(ctx, world.other_process_id)
    with container.context(scoped) as ctx, pytest.raises(NotFound):
        gold.gold_items(ctx, world.process_id)
    with container.context(scoped) as ctx:
        _, found = gold.gold_items(ctx, world.other_process_id)
        assert found.items == [] and found.total == 0
