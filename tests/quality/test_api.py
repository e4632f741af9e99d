"""Quality control over HTTP, against the real server: QA policies, the review desk, rework,
double entry and its confidentiality, the client's rejection of a delivery, gold items,
accuracy, the report and alerts."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.quality.accuracy import wilson
from tandem.quality.gold import seed_gold
from tandem.quality.models import FieldCheck
from tandem.tenancy.models import User
from tandem.work.transitions import ItemRef
from tests.conftest import RESULT, World
from tests.quality.conftest import Person, set_policy, work

Api = Callable[[str], httpx.Client]
Login = Callable[[Person], httpx.Client]

# The first keying's distinctive values: no route may show them to the second keyer.
# (Amounts with cents: "731913.57" cannot occur inside an id or a timestamp by chance.)
FIRST_KEYING = {"applicant_name": "Zacharias Firstkeyer", "coverage_amount": 731_913.57}
SECOND_KEYING = {"applicant_name": "Zacharias Firstkeyer", "coverage_amount": 264_587.31}
CORRECTED = {"applicant_name": "Maria Santos", "coverage_amount": 275_000}
WRONG_AMOUNT = [{"name": "coverage_amount", "category": "wrong_value"}]


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def login(server: str) -> Iterator[Login]:
    """An HTTP client holding a person's token; closed at the end of the test."""
    opened: list[httpx.Client] = []

    def client(who: Person) -> httpx.Client:
        opened.append(
            httpx.Client(
                base_url=server, headers={"Authorization": f"Bearer {who.token}"}, timeout=30
            )
        )
        return opened[-1]

    yield client
    for c in opened:
        c.close()


def _fields(response: httpx.Response) -> list[str]:
    """The fields an RFC 9457 problem names."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]


def _put_policy(client: httpx.Client, world: World, **body: Any) -> httpx.Response:
    return client.put(f"/api/v1/processes/{world.process_id}/quality-policy", json=body)


def _claim(client: httpx.Client) -> dict[str, Any]:
    claimed = client.post("/api/v1/dispatch/claim")
    assert claimed.status_code == 200, claimed.text
    lease: dict[str, Any] = claimed.json()
    return lease


def _submit(
    client: httpx.Client, item_id: Any, attempt: int, result: dict[str, Any]
) -> httpx.Response:
    return client.post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": attempt, "result": result}
    )


def _key(client: httpx.Client, result: dict[str, Any]) -> dict[str, Any]:
    """Claim the next item and submit `result`: the submit's answer (item_id, state)."""
    lease = _claim(client)
    submitted = _submit(client, lease["item_id"], lease["attempt"], result)
    assert submitted.status_code == 200, submitted.text
    answer: dict[str, Any] = submitted.json()
    return answer


def _review(client: httpx.Client, item_id: Any, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/quality/reviews/{item_id}", json=body)


def _queue(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """The review desk's queue, by item id."""
    listed = client.get("/api/v1/quality/reviews")
    assert listed.status_code == 200, listed.text
    return {row["item_id"]: row for row in listed.json()}


def _item(api: Api, item_id: Any, who: str = "client") -> dict[str, Any]:
    found = api(who).get(f"/api/v1/work-items/{item_id}")
    assert found.status_code == 200, found.text
    item: dict[str, Any] = found.json()
    return item


def _worked(container: Container, world: World) -> ItemRef:
    """A new item, worked (rightly) by the world's agent through the real dispatcher."""
    world.submit(container)
    return work(container, world.agent_id)


# -- 1. the QA policy ----------------------------------------------------------------------


def test_ops_sets_a_sampling_policy_and_reads_back_its_plan(api: Api, world: World) -> None:
    put = _put_policy(api("ops"), world, mode="sampling", aoql=0.02)
    assert put.status_code == 200, put.text
    policy = put.json()
    assert (policy["process_id"], policy["mode"], policy["aoql"]) == (
        str(world.process_id),
        "sampling",
        0.02,
    )
    plan = policy["example_plan"]
    assert set(plan) == {"clearance", "fraction", "aoql", "review_fraction_at_1_percent"}
    assert plan["clearance"] >= 1 and 0 < plan["fraction"] <= 1 and plan["aoql"] <= 0.02
    # The client reads the policy it is promised; other modes carry no plan.
    assert api("client").get(f"/api/v1/processes/{world.process_id}/quality-policy").json() == (
        policy
    )
    full = _put_policy(api("ops"), world, mode="full_review").json()
    assert (full["mode"], full["aoql"], full["example_plan"]) == ("full_review", 0.01, None)


def test_only_quality_managers_set_the_policy_and_only_of_visible_processes(
    api: Api, world: World
) -> None:
    path = f"/api/v1/processes/{world.process_id}/quality-policy"
    assert _put_policy(api("agent"), world, mode="full_review").status_code == 403
    assert api("agent").get(path).status_code == 403
    # A client may read its policy but not lower it; client roles never manage QA.
    assert _put_policy(api("client"), world, mode="none").status_code == 403
    assert _put_policy(api("other_client"), world, mode="none").status_code == 403
    # The other client does not learn the process exists: 404 like an unknown id.
    hidden = api("other_client").get(path)
    missing = api("other_client").get(f"/api/v1/processes/{uuid.uuid4()}/quality-policy")
    assert hidden.status_code == missing.status_code == 404
    assert set(hidden.json()) == set(missing.json())
    unknown = api("ops").put(
        f"/api/v1/processes/{uuid.uuid4()}/quality-policy", json={"mode": "full_review"}
    )
    assert unknown.status_code == 404
    assert api("client").get(path).json()["mode"] == "none"  # nothing above changed it


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "sampling", "aoql": 0}, "aoql"),
        ({"mode": "sampling", "aoql": 0.5}, "aoql"),
        ({"mode": "sampling", "min_accuracy": 1.5}, "min_accuracy"),
        ({"mode": "sampling", "gold_rate": 0.9}, "gold_rate"),
        ({"mode": "triple_entry"}, "mode"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    refused = _put_policy(api("ops"), world, **body)
    assert refused.status_code == 422
    assert _fields(refused) == [field]


# -- 2. the review desk --------------------------------------------------------------------


def test_a_reviewer_corrects_an_item_and_the_client_gets_the_correction(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    assert _put_policy(api("ops"), world, mode="full_review").status_code == 200
    item_id = str(world.submit(container).id)
    submitted = _key(api("agent"), RESULT)
    assert submitted == {"item_id": item_id, "state": "in_review"}
    assert _item(api, item_id)["state"] == "in_review"
    reviewer = login(person("qa_reviewer"))
    waiting = _queue(reviewer)[item_id]
    assert (waiting["kind"], waiting["agent_id"]) == ("full", str(world.agent_id))
    case = reviewer.get(f"/api/v1/quality/reviews/{item_id}").json()
    assert case["payload"] == {"document_ref": "x"} and case["result"] == RESULT
    assert case["criteria"] == ["applicant_name", "coverage_amount"]
    assert "wrong_value" in case["error_categories"]
    reviewed = _review(
        reviewer, item_id, failures=WRONG_AMOUNT, verdict="correct", corrected=CORRECTED
    )
    assert reviewed.status_code == 200, reviewed.text
    review = reviewed.json()
    assert (review["kind"], review["defect"], review["verdict"]) == ("full", True, "correct")
    assert review["checks"] == [
        {"name": "applicant_name", "passed": True, "category": None},
        {"name": "coverage_amount", "passed": False, "category": "wrong_value"},
    ]
    delivered = _item(api, item_id)
    assert (delivered["state"], delivered["result"]) == ("delivered", CORRECTED)
    assert item_id not in _queue(reviewer)
    # Reviewed once: the case is gone.
    assert reviewer.get(f"/api/v1/quality/reviews/{item_id}").status_code == 404


def test_a_review_without_failures_delivers_the_agents_result(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    item = _worked(container, world)
    reviewer = login(person("qa_reviewer"))
    reviewed = _review(reviewer, item.id, verdict="deliver")
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["defect"] is False
    delivered = _item(api, item.id)
    assert (delivered["state"], delivered["result"]) == ("delivered", RESULT)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"failures": [{"name": "bogus", "category": "wrong_value"}], "verdict": "correct"},
         "failures[0].name"),
        ({"failures": [{"name": "coverage_amount", "category": "typo"}], "verdict": "rework",
          "rework_to": "same"}, "failures[0].category"),
        ({"failures": [], "verdict": "approve"}, "verdict"),
        ({"failures": [], "verdict": "correct", "corrected": CORRECTED}, "verdict"),
        ({"failures": WRONG_AMOUNT, "verdict": "deliver"}, "verdict"),
        ({"failures": WRONG_AMOUNT, "verdict": "correct"}, "corrected"),
        ({"failures": WRONG_AMOUNT, "verdict": "correct",
          "corrected": {"applicant_name": "Maria Santos", "coverage_amount": 5}},
         "corrected.coverage_amount"),
        ({"failures": WRONG_AMOUNT, "verdict": "rework"}, "rework_to"),
    ],
)  # fmt: skip
def test_an_invalid_review_is_refused_naming_the_field_and_changes_nothing(
    api: Api,
    world: World,
    container: Container,
    person: Any,
    login: Login,
    body: dict[str, Any],
    field: str,
) -> None:
    set_policy(container, world.process_id, "full_review")
    item = _worked(container, world)
    reviewer = login(person("qa_reviewer"))
    refused = _review(reviewer, item.id, **body)
    assert refused.status_code == 422, refused.text
    assert _fields(refused) == [field]
    assert _item(api, item.id)["state"] == "in_review"
    assert str(item.id) in _queue(reviewer)


def test_nobody_reviews_their_own_work(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    world.submit(container)
    lead = login(person("team_lead", agent=True))  # may claim and may review
    item_id = _key(lead, RESULT)["item_id"]
    assert item_id not in _queue(lead)
    own = _review(lead, item_id, verdict="deliver")
    assert own.status_code == 409, own.text
    assert _item(api, item_id)["state"] == "in_review"
    # Another reviewer may.
    other = login(person("team_lead", agent=True))
    assert item_id in _queue(other)
    assert _review(other, item_id, verdict="deliver").status_code == 200


def test_a_reviewer_with_much_own_work_waiting_still_sees_the_work_of_others(
    world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    lead = person("team_lead", agent=True)
    for _ in range(100):
        world.submit(container)
        work(container, lead.agent_id)
    assert isinstance(container.clock, ManualClock)
    container.clock.advance(timedelta(minutes=1))  # due later than all of the lead's own
    others = _worked(container, world)
    assert list(_queue(login(lead))) == [str(others.id)]


def test_only_reviewers_use_the_review_desk(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    item = _worked(container, world)
    for who in ("client", "agent", "ops"):  # ops manages quality but does not review
        assert api(who).get("/api/v1/quality/reviews").status_code == 403
        assert _review(api(who), item.id, verdict="deliver").status_code == 403
    assert _item(api, item.id)["state"] == "in_review"
    reviewer = login(person("qa_reviewer"))
    assert _review(reviewer, uuid.uuid4(), verdict="deliver").status_code == 404


# -- 3. rework -----------------------------------------------------------------------------


def test_rework_to_another_agent_keeps_the_first_agent_away(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    item = _worked(container, world)
    reviewer = login(person("qa_reviewer"))
    sent = _review(reviewer, item.id, failures=WRONG_AMOUNT, verdict="rework", rework_to="other")
    assert sent.status_code == 200, sent.text
    assert (sent.json()["verdict"], sent.json()["rework_to"]) == ("rework", "other")
    assert _item(api, item.id)["state"] == "queued"
    assert api("agent").post("/api/v1/dispatch/claim").status_code == 204
    other = person("agent", agent=True)
    other_client = login(other)
    lease = _claim(other_client)
    assert lease["item_id"] == str(item.id)
    redone = _submit(other_client, item.id, lease["attempt"], CORRECTED)
    assert redone.json()["state"] == "in_review"
    waiting = _queue(reviewer)[str(item.id)]
    assert (waiting["kind"], waiting["agent_id"]) == ("rework", str(other.agent_id))


def test_rework_to_the_same_agent_leases_it_back_with_the_next_attempt(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review")
    world.submit(container)
    first = _claim(api("agent"))
    item_id = first["item_id"]
    assert _submit(api("agent"), item_id, first["attempt"], RESULT).status_code == 200
    reviewer = login(person("qa_reviewer"))
    sent = _review(reviewer, item_id, failures=WRONG_AMOUNT, verdict="rework", rework_to="same")
    assert sent.status_code == 200, sent.text
    leased = _item(api, item_id, "ops")
    assert (leased["state"], leased["attempt"]) == ("leased", first["attempt"] + 1)
    # The agent finds it among their leases, with their result and what failed.
    (held,) = api("agent").get("/api/v1/dispatch/leases").json()
    assert (held["item_id"], held["attempt"], held["result"]) == (
        item_id,
        first["attempt"] + 1,
        RESULT,
    )
    assert held["sent_back"]["by"] == "reviewer"
    assert held["sent_back"]["failed"] == [
        {"name": "coverage_amount", "passed": False, "category": "wrong_value"}
    ]
    # The old attempt is fenced off; the new one is the agent's to submit.
    stale = _submit(api("agent"), item_id, first["attempt"], CORRECTED)
    assert stale.status_code == 409, stale.text
    redone = _submit(api("agent"), item_id, first["attempt"] + 1, CORRECTED)
    assert redone.status_code == 200, redone.text
    assert redone.json()["state"] == "in_review"
    waiting = _queue(reviewer)[item_id]
    assert (waiting["kind"], waiting["agent_id"]) == ("rework", str(world.agent_id))
    case = reviewer.get(f"/api/v1/quality/reviews/{item_id}").json()
    assert case["result"] == CORRECTED
    assert _review(reviewer, item_id, verdict="deliver").status_code == 200
    assert _item(api, item_id)["result"] == CORRECTED


# -- 4. double entry -----------------------------------------------------------------------


def _upload_one(api: Api, world: World) -> str:
    """One item handed over as a batch file, so that the batch export route applies."""
    uploaded = api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={"file": ("one.csv", b"document_ref\nscan-1.pdf\n")},
    )
    assert uploaded.status_code == 201, uploaded.text
    batch_id: str = uploaded.json()["id"]
    return batch_id


def _probes(item_id: str, batch_id: str, world: World) -> list[str]:
    """Every GET route that reads an item, its history, reviews, exports or measures."""
    return [
        f"/api/v1/work-items/{item_id}",
        f"/api/v1/work-items/{item_id}/events",
        f"/api/v1/work-items/{item_id}/decisions",
        f"/api/v1/leases/{item_id}/referral",
        "/api/v1/work-items",
        f"/api/v1/work-items?process_id={world.process_id}",
        "/api/v1/work-items?state=leased",
        f"/api/v1/work-items?batch_id={batch_id}",
        f"/api/v1/batches/{batch_id}",
        f"/api/v1/batches/{batch_id}/results?format=csv",
        f"/api/v1/batches/{batch_id}/results?format=jsonl",
        "/api/v1/webhooks",
        "/api/v1/quality/reviews",
        f"/api/v1/quality/reviews/{item_id}",
        f"/api/v1/quality/adjudications/{item_id}",
        "/api/v1/quality/accuracy?by=field",
        "/api/v1/quality/report",
        "/api/v1/quality/alerts",
        "/api/v1/decisions/confirmations",
    ]


def _shows(body: str, keying: dict[str, Any]) -> bool:
    return keying["applicant_name"] in body or str(keying["coverage_amount"]) in body


def test_the_second_keyer_cannot_see_the_first_keying_by_any_route(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    assert _put_policy(api("ops"), world, mode="double_entry").status_code == 200
    batch_id = _upload_one(api, world)
    # Team leads hold work_item:read and quality:review: the strongest case.
    first, second = login(person("team_lead", agent=True)), login(person("team_lead", agent=True))
    keyed = _key(first, FIRST_KEYING)
    item_id = keyed["item_id"]
    assert keyed["state"] == "queued"  # waiting for its second keying
    assert first.post("/api/v1/dispatch/claim").status_code == 204  # never keys it twice
    lease = second.post("/api/v1/dispatch/claim")
    assert lease.status_code == 200 and lease.json()["item_id"] == item_id
    assert not _shows(lease.text, FIRST_KEYING)
    seen = {path: second.get(path) for path in _probes(item_id, batch_id, world)}
    for path, response in seen.items():
        assert not _shows(response.text, FIRST_KEYING), f"{path} shows the first keying"
    item = seen[f"/api/v1/work-items/{item_id}"]
    assert item.status_code == 200 and item.json()["state"] == "leased"
    assert item.json()["result"] is None
    assert seen[f"/api/v1/work-items/{item_id}/events"].status_code == 200
    listed = seen[f"/api/v1/work-items?process_id={world.process_id}"].json()
    assert [(i["id"], i["result"]) for i in listed] == [(item_id, None)]
    assert seen["/api/v1/quality/reviews"].json() == []
    assert seen[f"/api/v1/quality/reviews/{item_id}"].status_code == 404
    assert seen[f"/api/v1/quality/adjudications/{item_id}"].status_code == 404
    # Team leads export nothing and manage no webhooks.
    assert seen[f"/api/v1/batches/{batch_id}/results?format=csv"].status_code == 403
    assert seen[f"/api/v1/batches/{batch_id}/results?format=jsonl"].status_code == 403
    assert seen["/api/v1/webhooks"].status_code == 403
    # Nor does the client, whose export may run meanwhile, see a half-keyed result.
    for fmt in ("csv", "jsonl"):
        export = api("client").get(f"/api/v1/batches/{batch_id}/results?format={fmt}")
        assert export.status_code == 200 and item_id in export.text
        assert not _shows(export.text, FIRST_KEYING)
    assert _item(api, item_id)["result"] is None


def test_a_disagreement_goes_to_a_third_person_who_settles_it(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "double_entry")
    item_id = str(world.submit(container).id)
    first_lead, second_lead = person("team_lead", agent=True), person("team_lead", agent=True)
    first, second = login(first_lead), login(second_lead)
    assert _key(first, FIRST_KEYING)["state"] == "queued"
    assert _key(second, SECOND_KEYING) == {"item_id": item_id, "state": "in_review"}
    path = f"/api/v1/quality/adjudications/{item_id}"
    for keyer in (first, second):
        assert keyer.get(path).status_code == 404
        assert keyer.post(path, json={"values": CORRECTED}).status_code == 404
        assert item_id not in _queue(keyer)
    adjudicator = login(person("qa_reviewer"))
    assert _queue(adjudicator)[item_id]["kind"] == "adjudication"
    assert _queue(adjudicator)[item_id]["agent_id"] is None
    case = adjudicator.get(path).json()
    assert case["disagreements"] == ["coverage_amount"]
    assert [(k["number"], k["agent_id"], k["values"]) for k in case["keyings"]] == [
        (1, str(first_lead.agent_id), FIRST_KEYING),
        (2, str(second_lead.agent_id), SECOND_KEYING),
    ]
    # A disagreement is adjudicated, not reviewed.
    assert _review(adjudicator, item_id, verdict="deliver").status_code == 409
    bad = adjudicator.post(path, json={"values": {"applicant_name": "Zacharias Firstkeyer"}})
    assert bad.status_code == 422 and _fields(bad) == ["values.coverage_amount"]
    settled = {"applicant_name": "Zacharias Firstkeyer", "coverage_amount": 731_000}
    done = adjudicator.post(path, json={"values": settled})
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["result"]) == ("delivered", settled)
    delivered = _item(api, item_id)
    assert (delivered["state"], delivered["result"]) == ("delivered", settled)
    assert adjudicator.get(path).status_code == 404
    # Each keyer was scored against the settled values: the name right, the amount wrong.
    scores = api("ops").get("/api/v1/quality/accuracy?by=agent").json()
    assert {
        row["group"]: (row["fields"]["correct"], row["fields"]["checked"]) for row in scores
    } == {
        str(first_lead.agent_id): (1, 2),
        str(second_lead.agent_id): (1, 2),
    }


def test_a_disagreement_holds_no_keying_on_the_item_for_either_keyer(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "double_entry")
    item_id = str(world.submit(container).id)
    first, second = login(person("team_lead", agent=True)), login(person("team_lead", agent=True))
    _key(first, FIRST_KEYING)
    assert _key(second, SECOND_KEYING)["state"] == "in_review"
    for keyer, other in ((first, SECOND_KEYING), (second, FIRST_KEYING)):
        for path in (
            f"/api/v1/work-items/{item_id}",
            f"/api/v1/work-items?process_id={world.process_id}",
            f"/api/v1/work-items/{item_id}/events",
        ):
            shown = keyer.get(path)
            assert shown.status_code == 200
            assert str(other["coverage_amount"]) not in shown.text, path
    assert _item(api, item_id)["result"] is None  # nor the client, until it is settled


def test_a_disagreement_is_not_open_to_its_keyers_as_a_review_case(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "double_entry")
    item_id = str(world.submit(container).id)
    first = login(person("team_lead", agent=True))
    _key(first, FIRST_KEYING)
    assert _key(login(person("team_lead", agent=True)), SECOND_KEYING)["state"] == "in_review"
    assert first.get(f"/api/v1/quality/reviews/{item_id}").status_code == 404


def test_keyings_that_agree_after_normalizing_are_delivered_without_adjudication(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "double_entry")
    item_id = str(world.submit(container).id)
    first_keying = {"applicant_name": "maria santos ", "coverage_amount": 250000}
    second_keying = {"applicant_name": "Maria Santos", "coverage_amount": 250000.0}
    assert _key(login(person("agent", agent=True)), first_keying)["state"] == "queued"
    done = _key(login(person("agent", agent=True)), second_keying)
    assert done == {"item_id": item_id, "state": "delivered"}
    delivered = _item(api, item_id)
    assert delivered["state"] == "delivered"
    assert delivered["result"] in (first_keying, second_keying)
    assert item_id not in _queue(login(person("qa_reviewer")))
    # Both keyers were scored: every field passed for both.
    by_agent = api("ops").get("/api/v1/quality/accuracy?by=agent").json()
    assert sorted((row["fields"]["checked"], row["fields"]["correct"]) for row in by_agent) == [
        (2, 2),
        (2, 2),
    ]


# -- 5. the client's acceptance ------------------------------------------------------------


def _reject(client: httpx.Client, item_id: Any, fields: list[str]) -> httpx.Response:
    return client.post(
        f"/api/v1/work-items/{item_id}/reject",
        json={"reason": "coverage does not match the form", "fields": fields},
    )


def test_the_client_rejects_a_delivered_item_once(
    api: Api, world: World, container: Container
) -> None:
    item = _worked(container, world)
    assert _item(api, item.id)["state"] == "delivered"
    unknown = _reject(api("client"), item.id, ["coverage_amount", "postcode"])
    assert unknown.status_code == 422 and _fields(unknown) == ["fields"]
    assert _reject(api("agent"), item.id, ["coverage_amount"]).status_code == 403
    # The other client learns nothing: the same problem as for an item that does not exist.
    missing_id = uuid.uuid4()
    hidden = _reject(api("other_client"), item.id, ["coverage_amount"])
    missing = _reject(api("other_client"), missing_id, ["coverage_amount"])
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {
        **missing.json(),
        "detail": missing.json()["detail"].replace(str(missing_id), str(item.id)),
        "request_id": hidden.json()["request_id"],  # each answer's own
    }
    assert _item(api, item.id)["state"] == "delivered"  # none of the above changed it
    rejected = _reject(api("client"), item.id, ["coverage_amount"])
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["state"], rejected.json()["delivered_at"]) == ("queued", None)
    again = _reject(api("client"), item.id, ["coverage_amount"])
    assert again.status_code == 409, again.text
    report = api("client").get("/api/v1/quality/report").json()
    assert [(row["code"], row["rejected_by_client"]) for row in report] == [("keying", 1)]


def test_work_redone_after_a_rejection_is_reviewed_before_it_leaves_again(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    item = _worked(container, world)
    assert _reject(api("client"), item.id, ["coverage_amount"]).status_code == 200
    redone = _key(api("agent"), CORRECTED)
    assert redone == {"item_id": str(item.id), "state": "in_review"}
    waiting = _queue(login(person("qa_reviewer")))[str(item.id)]
    assert (waiting["kind"], waiting["agent_id"]) == ("rework", str(world.agent_id))


def test_work_redone_after_a_rejection_is_reviewed_under_a_qa_mode(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "sampling")
    reviewer = login(person("qa_reviewer"))
    item = _worked(container, world)  # a new agent's item: screened
    assert _review(reviewer, item.id, verdict="deliver").status_code == 200
    assert _reject(api("client"), item.id, ["coverage_amount"]).status_code == 200
    redone = _key(api("agent"), CORRECTED)
    assert redone == {"item_id": str(item.id), "state": "in_review"}
    assert _queue(reviewer)[str(item.id)]["kind"] == "rework"


# -- 6. gold items -------------------------------------------------------------------------

GOLD_PAYLOAD = {"document_ref": "gold-1.pdf", "pages": 2}
GOLD_ANSWER = {"applicant_name": "Gold Standard", "coverage_amount": 100_000}


def _add_gold(client: httpx.Client, world: World, **body: Any) -> httpx.Response:
    return client.post(
        "/api/v1/quality/gold-items",
        json={"process_id": str(world.process_id), **body},
    )


def test_a_gold_item_must_match_the_process_forms(api: Api, world: World) -> None:
    bad_answer = {"applicant_name": "Gold Standard", "coverage_amount": 10}
    refused = _add_gold(api("ops"), world, payload=GOLD_PAYLOAD, answer=bad_answer)
    assert refused.status_code == 422 and _fields(refused) == ["answer.coverage_amount"]
    bad_payload = _add_gold(api("ops"), world, payload={"pages": 2}, answer=GOLD_ANSWER)
    assert bad_payload.status_code == 422 and _fields(bad_payload) == ["payload.document_ref"]
    assert (
        _add_gold(api("client"), world, payload=GOLD_PAYLOAD, answer=GOLD_ANSWER).status_code == 403
    )
    added = _add_gold(api("ops"), world, payload=GOLD_PAYLOAD, answer=GOLD_ANSWER)
    assert added.status_code == 201, added.text
    gold = added.json()
    assert (gold["client_id"], gold["payload"], gold["answer"], gold["active"]) == (
        world.client_id,
        GOLD_PAYLOAD,
        GOLD_ANSWER,
        True,
    )


def test_gold_copies_are_invisible_to_the_client(
    api: Api, world: World, container: Container
) -> None:
    assert _add_gold(api("ops"), world, payload=GOLD_PAYLOAD, answer=GOLD_ANSWER).status_code == 201
    set_policy(container, world.process_id, "none", gold_rate=1.0)
    rng = random.Random(1)

    def seed() -> int:
        with transaction(container.sessions) as session:
            return seed_gold(session, container.clock.now(), rng, 0.75, keyring=container.keyring)

    assert seed() == 0  # the first pass only starts counting
    assert isinstance(container.clock, ManualClock)
    container.clock.advance(timedelta(seconds=1))
    real = {str(world.submit(container, f"real-{n}.pdf").id) for n in range(2)}
    assert seed() == 2
    seen_by_ops = api("ops").get(f"/api/v1/work-items?process_id={world.process_id}").json()
    gold_ids = {i["id"] for i in seen_by_ops if i["payload"] == GOLD_PAYLOAD}
    assert len(gold_ids) == 2 and {i["id"] for i in seen_by_ops} == real | gold_ids
    for path in (
        "/api/v1/work-items",
        f"/api/v1/work-items?process_id={world.process_id}",
        "/api/v1/work-items?state=queued",
    ):
        listed = api("client").get(path)
        assert listed.status_code == 200
        assert {i["id"] for i in listed.json()} == real, path
    for gold_id in gold_ids:
        assert api("client").get(f"/api/v1/work-items/{gold_id}").status_code == 404
        assert api("client").get(f"/api/v1/work-items/{gold_id}/events").status_code == 404
        assert _item(api, gold_id, "ops")["state"] == "queued"


# -- 7. accuracy and the report ------------------------------------------------------------


def _three_reviewed_one_wrong(
    container: Container, world: World, person: Any, login: Login
) -> None:
    """full_review; three items of the world's agent reviewed, the coverage of one wrong."""
    set_policy(container, world.process_id, "full_review")
    reviewer = login(person("qa_reviewer"))
    for n in range(3):
        item = _worked(container, world)
        body: dict[str, Any] = (
            {"failures": WRONG_AMOUNT, "verdict": "correct", "corrected": CORRECTED}
            if n == 0
            else {"verdict": "deliver"}
        )
        assert _review(reviewer, item.id, **body).status_code == 200


def test_the_report_counts_reviews_and_defects(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    _three_reviewed_one_wrong(container, world, person, login)
    assert api("agent").get("/api/v1/quality/report").status_code == 403
    [row] = api("client").get("/api/v1/quality/report").json()
    assert row["process_id"] == str(world.process_id)
    assert (row["mode"], row["target_accuracy"]) == ("full_review", 0.99)
    assert (row["submitted"], row["delivered"], row["reviewed"]) == (3, 3, 3)
    assert (row["review_fraction"], row["defects_found"]) == (1.0, 1)
    assert (row["estimated_escapes"], row["estimated_accuracy"]) == (0.0, 1.0)
    assert (row["rejected_by_client"], row["observed_accuracy"], row["meets_target"]) == (
        0,
        1.0,
        True,
    )
    by_ops = {r["process_id"]: r for r in api("ops").get("/api/v1/quality/report").json()}
    assert set(by_ops) == {str(world.process_id), str(world.other_process_id)}
    assert by_ops[str(world.process_id)] == row
    [other] = api("other_client").get("/api/v1/quality/report").json()
    assert other["process_id"] == str(world.other_process_id) and other["reviewed"] == 0


def test_accuracy_by_field_and_process_with_intervals(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    _three_reviewed_one_wrong(container, world, person, login)
    fields = api("client").get("/api/v1/quality/accuracy?by=field")
    assert fields.status_code == 200, fields.text
    rows = {row["group"]: row for row in fields.json()}
    amount = rows[f"{world.process_id}/coverage_amount"]
    name = rows[f"{world.process_id}/applicant_name"]
    assert len(rows) == 2 and amount["items"] is None and amount["period"] is None
    assert (amount["fields"]["checked"], amount["fields"]["correct"]) == (3, 2)
    assert amount["fields"]["accuracy"] == pytest.approx(2 / 3)
    assert amount["fields"]["low"] < 2 / 3 < amount["fields"]["high"]
    expected = wilson(2, 3)
    assert amount["fields"]["low"] == pytest.approx(expected.low, abs=1e-6)
    assert amount["fields"]["high"] == pytest.approx(expected.high, abs=1e-6)
    assert (name["fields"]["checked"], name["fields"]["correct"]) == (3, 3)
    [process] = api("client").get("/api/v1/quality/accuracy?by=process").json()
    assert process["group"] == str(world.process_id)
    assert (process["fields"]["checked"], process["fields"]["correct"]) == (6, 5)
    assert (process["items"]["checked"], process["items"]["correct"]) == (3, 2)
    [daily] = api("client").get("/api/v1/quality/accuracy?by=client&interval=day").json()
    assert (daily["group"], daily["period"]) == (str(world.client_id), "2026-03-04")
    assert api("other_client").get("/api/v1/quality/accuracy?by=field").json() == []
    # Days are the reader's: checked at 15:00 UTC, 05:00 that day in Honolulu, 05:00 the next
    # in Kiritimati (UTC+14).
    for zone, day in (("Pacific/Honolulu", "2026-03-04"), ("Pacific/Kiritimati", "2026-03-05")):
        with transaction(container.sessions) as session:
            session.execute(update(FieldCheck).values(at=datetime(2026, 3, 4, 15, 0, tzinfo=UTC)))
            session.execute(
                update(User).where(User.email == "c@insurer.example").values(time_zone=zone)
            )
        [daily] = api("client").get("/api/v1/quality/accuracy?by=client&interval=day").json()
        assert daily["period"] == day, zone
    with transaction(container.sessions) as session:
        session.execute(update(FieldCheck).values(at=datetime(2026, 3, 4, 3, 0, tzinfo=UTC)))
    [daily] = api("client").get("/api/v1/quality/accuracy?by=client&interval=day").json()
    assert daily["period"] == "2026-03-04"  # 03:00 UTC is 17:00 on the 4th in Kiritimati


def test_accuracy_per_agent_is_for_provider_staff_only(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    _three_reviewed_one_wrong(container, world, person, login)
    refused = api("client").get("/api/v1/quality/accuracy?by=agent")
    assert refused.status_code == 403 and str(world.agent_id) not in refused.text
    assert api("agent").get("/api/v1/quality/accuracy?by=agent").status_code == 403
    [agent] = api("ops").get("/api/v1/quality/accuracy?by=agent").json()
    assert agent["group"] == str(world.agent_id)
    assert (agent["fields"]["checked"], agent["fields"]["correct"]) == (6, 5)
    assert (agent["items"]["checked"], agent["items"]["correct"]) == (3, 2)
    bad = api("ops").get("/api/v1/quality/accuracy?by=team")
    assert bad.status_code == 422 and _fields(bad) == ["query.by"]


# -- 8. alerts -----------------------------------------------------------------------------


def test_an_agent_below_the_threshold_raises_one_alert_until_acknowledged(
    api: Api, world: World, container: Container, person: Any, login: Login
) -> None:
    set_policy(container, world.process_id, "full_review", min_accuracy=0.99)
    reviewer = login(person("qa_reviewer"))
    wrong = {"failures": WRONG_AMOUNT, "verdict": "correct", "corrected": CORRECTED}
    for count in range(1, 13):
        item = _worked(container, world)
        assert _review(reviewer, item.id, **wrong).status_code == 200
        if count == 9:  # too few reviews to be confident yet
            assert api("ops").get("/api/v1/quality/alerts").json() == []
    assert api("client").get("/api/v1/quality/alerts").status_code == 403
    assert api("agent").get("/api/v1/quality/alerts").status_code == 403
    [alert] = api("ops").get("/api/v1/quality/alerts").json()
    assert (alert["agent_id"], alert["process_id"]) == (str(world.agent_id), str(world.process_id))
    assert (alert["accuracy"], alert["threshold"], alert["reviewed"]) == (0.0, 0.99, 10)
    assert alert["high"] < 0.99
    assert [a["id"] for a in reviewer.get("/api/v1/quality/alerts").json()] == [alert["id"]]
    path = f"/api/v1/quality/alerts/{alert['id']}/acknowledge"
    assert api("client").post(path).status_code == 403
    assert api("ops").post(f"/api/v1/quality/alerts/{uuid.uuid4()}/acknowledge").status_code == 404
    acknowledged = api("ops").post(path)
    assert acknowledged.status_code == 204, acknowledged.text
    assert api("ops").get("/api/v1/quality/alerts").json() == []
    # Still below: more failed reviews do not raise it again.
    item = _worked(container, world)
    assert _review(reviewer, item.id, **wrong).status_code == 200
    assert api("ops").get("/api/v1/quality/alerts").json() == []
