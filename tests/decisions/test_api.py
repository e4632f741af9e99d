"""Rulesets and analysts' decisions over HTTP, against the real server."""

from __future__ import annotations

import copy
import io
import uuid
from typing import Any

import httpx
from openpyxl import Workbook
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions import underwriting as uw
from tandem.delivery.models import WebhookDelivery
from tandem.tenancy.service import create_user, issue_token
from tests.conftest import World, _agent
from tests.decisions.conftest import ABROAD, BASE, NAME_MASKED, NAMED, naming_process


def _analyst(
    container: Container, world: World, server: str, email: str = "u@provider.example"
) -> httpx.Client:
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email=email,
            name="U",
            role="analyst",
            now=container.clock.now(),
        )
        _agent(session, [world.client_id], user_id=user.id)
        token = issue_token(session, user.id, "test", container.clock.now())
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"})


def _publish(
    client: httpx.Client, process_id: uuid.UUID, graph: dict[str, Any], **extra: Any
) -> Any:
    created = client.post(
        f"/api/v1/processes/{process_id}/rulesets", json={"graph": graph, **extra}
    )
    assert created.status_code == 201, created.text
    ruleset = created.json()
    for name, data, expected in uw.tests():
        added = client.post(
            f"/api/v1/rulesets/{ruleset['id']}/tests",
            json={"name": name, "input": data, "expected": expected},
        )
        assert added.status_code == 201, added.text
    return ruleset, client.post(f"/api/v1/rulesets/{ruleset['id']}/publish")


def test_upload_errors_are_problems_naming_the_place(
    api: Any,
    process_id: uuid.UUID,
) -> None:
    graph = copy.deepcopy(uw.graph())
    graph["nodes"][1]["content"]["inputs"][2]["field"] = "body_mass"
    refused = api("client").post(f"/api/v1/processes/{process_id}/rulesets", json={"graph": graph})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {
            "field": "node 'Data checks', column 'BMI'",
            "message": "reads field 'body_mass', which the process input form does not have",
        }
    ]
    graph = copy.deepcopy(uw.graph())
    graph["edges"].append({"id": "loop", "sourceId": "route", "targetId": "checks"})
    cyclic = api("client").post(f"/api/v1/processes/{process_id}/rulesets", json={"graph": graph})
    assert cyclic.status_code == 422 and cyclic.json()["errors"][0]["field"] == "graph"


def test_publish_refused_until_tests_pass_then_download_what_was_uploaded(
    api: Any,
    process_id: uuid.UUID,
) -> None:
    broken = copy.deepcopy(uw.graph())
    next(n for n in broken["nodes"] if n["id"] == "outcome")["content"]["rules"][0]["out0"] = (
        "'approve'"  # minors approved
    )
    _, refused = _publish(api("client"), process_id, broken)
    assert refused.status_code == 409
    assert [f["name"] for f in refused.json()["failures"]] == ["minor declines"]
    ruleset, published = _publish(api("client"), process_id, uw.graph())
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert published.json()["version"] == 2
    assert api("client").get(f"/api/v1/rulesets/{ruleset['id']}/graph").json() == uw.graph()
    versions = api("client").get(f"/api/v1/processes/{process_id}/rulesets").json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "draft"), (2, "published")]
    assert api("other_client").get(f"/api/v1/rulesets/{ruleset['id']}").status_code == 404
    assert api("agent").get(f"/api/v1/rulesets/{ruleset['id']}").status_code == 403


def test_excel_import_over_http(api: Any, process_id: uuid.UUID) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "in:age", "out:outcome", "out:reasons"])
    sheet.append(["US", "[18..65]", "approve", '["STANDARD"]'])
    sheet.append([None, None, "refer", '["REVIEW"]'])
    buffer = io.BytesIO()
    book.save(buffer)
    created = api("client").post(
        f"/api/v1/processes/{process_id}/rulesets/xlsx",
        files={"file": ("criteria.xlsx", buffer.getvalue())},
        data={"hit_policy": "first"},
    )
    assert created.status_code == 201, created.text
    graph = api("client").get(f"/api/v1/rulesets/{created.json()['id']}/graph").json()
    assert graph["nodes"][1]["content"]["rules"][0]["in0"] == '"US"'
    bad = api("client").post(
        f"/api/v1/processes/{process_id}/rulesets/xlsx",
        files={"file": ("criteria.xlsx", b"not a workbook")},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "file"


def test_an_analyst_sees_the_referral_and_judges_it(
    api: Any,
    server: str,
    container: Container,
    world: World,
    process_id: uuid.UUID,
) -> None:
    _publish(api("client"), process_id, uw.graph())
    created = api("client").post(
        f"/api/v1/processes/{process_id}/work-items", json={"payload": ABROAD}
    )
    assert created.status_code == 201 and created.json()["state"] == "queued"
    clear = api("client").post(f"/api/v1/processes/{process_id}/work-items", json={"payload": BASE})
    assert clear.json()["state"] == "delivered"
    item_id = created.json()["id"]
    with _analyst(container, world, server) as analyst:
        lease = analyst.post("/api/v1/dispatch/claim").json()
        assert lease["item_id"] == item_id
        referral = analyst.get(f"/api/v1/leases/{item_id}/referral").json()
        assert referral["decision"]["reasons"] == ["RESIDES_ABROAD"]
        assert referral["trace"][0]["node"] == "Data checks"
        judged = analyst.post(
            f"/api/v1/leases/{item_id}/judgment",
            json={"attempt": lease["attempt"], "outcome": "approve", "reason": "US income"},
        )
        assert judged.status_code == 200, judged.text
        # The rules advised approval on referring it: no override.
        assert judged.json() == {"item_id": item_id, "state": "delivered", "override": False}
    seen = api("client").get(f"/api/v1/work-items/{item_id}/decisions").json()
    assert [(d["by"], d["outcome"]) for d in seen["history"]] == [
        ("rules", "refer"),
        ("analyst", "approve"),
    ]
    measures = api("client").get(f"/api/v1/processes/{process_id}/decision-measures").json()
    assert (measures["stp_rate"], measures["override_rate"]) == (0.5, 0.0)
    assert measures["referral_reasons"] == {"RESIDES_ABROAD": 1}


def test_on_demand_evaluation_over_http(api: Any, process_id: uuid.UUID) -> None:
    _publish(api("client"), process_id, uw.graph())
    item = (
        api("client")
        .post(f"/api/v1/processes/{process_id}/work-items", json={"payload": ABROAD})
        .json()
    )
    evaluated = api("ops").post(f"/api/v1/work-items/{item['id']}/evaluation", json={})
    assert evaluated.status_code == 200, evaluated.text
    assert evaluated.json()["state"] == "queued"
    assert evaluated.json()["decision"]["reasons"] == ["RESIDES_ABROAD"]
    assert (
        api("agent").post(f"/api/v1/work-items/{item['id']}/evaluation", json={}).status_code == 403
    )
    other = api("other_client").post(f"/api/v1/work-items/{item['id']}/evaluation", json={})
    assert other.status_code == 404


def test_four_eyes_over_http(
    api: Any, server: str, container: Container, world: World, process_id: uuid.UUID
) -> None:
    _publish(api("client"), process_id, uw.graph(), four_eyes={"declines": True})
    assert (
        api("client").post("/api/v1/webhooks", json={"url": "https://hooks.example/in"}).is_success
    )
    item_id = (
        api("client")
        .post(f"/api/v1/processes/{process_id}/work-items", json={"payload": ABROAD})
        .json()["id"]
    )
    with (
        _analyst(container, world, server) as first,
        _analyst(container, world, server, "v@provider.example") as second,
    ):
        lease = first.post("/api/v1/dispatch/claim").json()
        judged = first.post(
            f"/api/v1/leases/{item_id}/judgment",
            json={"attempt": lease["attempt"], "outcome": "decline", "reason": "sanctions list"},
        ).json()
        assert judged["state"] == "in_review"
        assert first.get("/api/v1/decisions/confirmations").json() == []
        [waiting] = second.get("/api/v1/decisions/confirmations").json()
        assert waiting["item_id"] == item_id and waiting["payload"]["country"] == "GB"
        assert waiting["judgment"]["reasons"] == ["sanctions list"]
        own = first.post(f"/api/v1/decisions/confirmations/{item_id}", json={"agree": True})
        assert own.status_code == 409
        confirmed = second.post(f"/api/v1/decisions/confirmations/{item_id}", json={"agree": True})
        assert confirmed.status_code == 200 and confirmed.json()["by"] == "confirmation"
    item = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert (item["state"], item["result"]["outcome"]) == ("delivered", "decline")
    with transaction(container.sessions) as session:  # the client's webhook is told, once
        (event,) = session.scalars(select(WebhookDelivery.payload)).all()
    assert (
        event["data"]["work_item_id"] == item_id and event["data"]["result"]["outcome"] == "decline"
    )


def test_the_trace_masks_what_the_readers_payload_masks(
    api: Any, server: str, container: Container, world: World
) -> None:
    """Agents of this process see health data but not names: the analyst's trace shows the
    BMI the rules read and copied, and every value made from the name masked as in the
    analyst's payload; staff who are not agents see both masked; the client all in clear."""
    process_id = naming_process(container, world, visible=["health"])
    created = api("client").post(
        f"/api/v1/processes/{process_id}/work-items", json={"payload": NAMED}
    )
    assert created.status_code == 201 and created.json()["state"] == "queued", created.text
    item_id = created.json()["id"]
    with _analyst(container, world, server) as analyst:
        lease = analyst.post("/api/v1/dispatch/claim").json()
        assert lease["item_id"] == item_id
        assert (lease["payload"]["applicant_name"], lease["payload"]["bmi"]) == (NAME_MASKED, 36.5)
        answer = analyst.get(f"/api/v1/leases/{item_id}/referral")
    assert answer.status_code == 200, answer.text
    assert "maria" not in answer.text.lower() and "santos" not in answer.text.lower()
    facts, outcome = answer.json()["trace"]
    # The rules decided on the clear values; the analyst reads them as their payload shows.
    assert facts["set"] == {"applicant": NAME_MASKED, "shouted": NAME_MASKED, "body_mass": 36.5}
    assert outcome["set"] == {
        "outcome": "refer",
        "reasons": ["BMI_35_PLUS"],
        "note": "f••• " + NAME_MASKED,
        "bmi_seen": 36.5,
    }
    assert answer.json()["decision"]["reasons"] == ["BMI_35_PLUS"]

    staff = api("ops").get(f"/api/v1/work-items/{item_id}/decisions")  # reads items, no agent
    assert staff.status_code == 200, staff.text
    assert "maria" not in staff.text.lower() and "36.5" not in staff.text
    assert staff.json()["trace"][0]["set"] == {
        "applicant": NAME_MASKED,
        "shouted": NAME_MASKED,
        "body_mass": "[hidden]",
    }
    client = api("client").get(f"/api/v1/work-items/{item_id}/decisions").json()
    assert client["trace"][0]["set"] == {
        "applicant": "Maria Santos",
        "shouted": "MARIA SANTOS",
        "body_mass": 36.5,
    }
    assert client["trace"][1]["set"]["note"] == "for Maria Santos"


def test_the_clients_webhooks_hear_of_items_the_rules_deliver(
    api: Any, container: Container, process_id: uuid.UUID
) -> None:
    """Decided by the rules at once (one item, a file's rows) or on demand, a delivered
    item tells the client's webhooks as an analyst's or an agent's delivery does."""
    client = api("client")
    early = client.post(f"/api/v1/processes/{process_id}/work-items", json={"payload": BASE})
    assert early.json()["state"] == "queued"  # no rules published yet: for analysts
    _publish(client, process_id, uw.graph())
    assert client.post("/api/v1/webhooks", json={"url": "https://hooks.example/in"}).is_success
    one = client.post(f"/api/v1/processes/{process_id}/work-items", json={"payload": BASE})
    assert one.json()["state"] == "delivered"
    rows = [BASE, ABROAD, {**BASE, "age": 41}]
    cells = [
        ",".join(str(r[k]).lower() if r[k] in (True, False) else str(r[k]) for k in BASE)
        for r in rows
    ]
    csv_text = "\n".join([",".join(BASE), *cells])
    batch = client.post(
        f"/api/v1/processes/{process_id}/batches",
        files={"file": ("applications.csv", csv_text.encode())},
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["decisions"] == {"approve": 2, "refer": 1}
    evaluated = api("ops").post(f"/api/v1/work-items/{early.json()['id']}/evaluation", json={})
    assert evaluated.json()["state"] == "delivered"

    with transaction(container.sessions) as session:
        events = session.scalars(select(WebhookDelivery.payload)).all()
    delivered = sorted(
        item["id"]
        for item in client.get("/api/v1/work-items", params={"state": "delivered"}).json()
    )
    assert sorted(event["data"]["work_item_id"] for event in events) == delivered
    assert len(delivered) == 4
    assert {event["data"]["result"]["outcome"] for event in events} == {"approve"}
