"""Outcome mapping: rules that end in their own words (GoRules' insurance underwriting example
ends in `underwriting.needsManualReview` and `underwriting.referralReason`) are read as approve,
decline or refer, with reasons and delivered parts, by expressions stored with the ruleset,
covered by its test cases and run in the rules workers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput
from tandem.decisions import engine, jdm, rulesets
from tandem.intake.service import submit_item
from tests.conftest import World

GRAPH = json.loads(
    (Path(__file__).parent / "jdm_graphs" / "insurance-underwriting-risk.json").read_text()
)
MAPPING = {
    "outcome": "underwriting.needsManualReview ? 'refer' "
    ": (totalRiskScore >= 60 ? 'decline' : 'approve')",
    "reasons": "underwriting.needsManualReview ? [underwriting.referralReason] : riskDescriptions",
    "deliver": ["totalRiskScore", "underwriting.needsManualReview"],
}
HEALTHY = {"answers": {"age": 30, "coverageAmount": 100_000}}
REFERRED = {"answers": {"age": 30, "coverageAmount": 100_000, "hasForeignResidency": True}}


def define_process_for_graph(container: Container, world: World) -> uuid.UUID:
    """The insurer's decision process for GoRules' example, its input form drafted from it."""
    with transaction(container.sessions) as session:
        return define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="gorules_uw",
                name="GoRules underwriting",
                kind="decision",
                input_schema=jdm.draft_form(GRAPH),
                form_schema={"type": "object", "properties": {"outcome": {"type": "string"}}},
                sla_minutes=480,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        ).id


@pytest.fixture
def process_id(container: Container, world: World) -> uuid.UUID:
    return define_process_for_graph(container, world)


def test_a_mapping_reads_the_rules_own_words_as_outcome_reasons_and_delivered_parts() -> None:
    rules = engine.CompiledRules(GRAPH, MAPPING)
    approved, referred = rules.decide_many([HEALTHY, REFERRED])
    assert (approved.outcome, approved.reasons) == ("approve", [])
    assert approved.delivered == {"totalRiskScore": 0, "underwriting.needsManualReview": False}
    assert referred.outcome == "refer" and referred.reasons and referred.reasons[0]
    assert referred.delivered is not None and referred.delivered["underwriting.needsManualReview"]
    assert rules.decide(REFERRED) == referred  # one by one, the same reading
    # Without the mapping, the same rules give no outcome of Tandem's: referred, NO_OUTCOME.
    assert engine.CompiledRules(GRAPH).decide(HEALTHY).reasons == [engine.NO_OUTCOME]


def test_a_mapping_may_decline_and_recommend() -> None:
    risky = {"answers": {"age": 70, "coverageAmount": 100_000, "hasHighRiskMedicalCondition": True}}
    strict = {
        "outcome": "totalRiskScore >= 20 ? 'decline' : 'approve'",
        "reasons": "riskDescriptions",
    }
    declined = engine.CompiledRules(GRAPH, strict).decide(risky)
    assert declined.outcome == "decline" and declined.reasons  # the risk factors' descriptions
    advising = {**MAPPING, "recommendation": "totalRiskScore >= 40 ? 'decline' : 'approve'"}
    referred = engine.CompiledRules(GRAPH, advising).decide(REFERRED)
    assert (referred.outcome, referred.recommendation) == ("refer", "approve")


def test_a_mapping_that_fails_on_a_result_refers_that_item_with_the_reason() -> None:
    rules = engine.CompiledRules(GRAPH, {"outcome": "len(underwriting.nothing.here) > 0"})
    [verdict] = rules.decide_many([HEALTHY])
    assert verdict.reasons == [engine.RULES_ERROR] and verdict.error


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"reasons": "[]"}, "mapping.outcome"),
        ({"outcome": "'approve' +"}, "mapping.outcome"),
        ({"outcome": "'approve'", "deliver": ["a b"]}, "mapping.deliver"),
        ({"outcome": "'approve'", "colour": "red"}, "mapping.colour"),
    ],
)
def test_a_bad_mapping_is_refused_at_upload_naming_the_key(
    container: Container, world: World, process_id: uuid.UUID, mapping: dict[str, Any], field: str
) -> None:
    with container.context(world.client_user) as ctx, pytest.raises(InvalidInput) as refused:
        rulesets.create_version(ctx, process_id, GRAPH, mapping=mapping)
    assert field in [e["field"] for e in refused.value.extra["errors"]]


def test_test_cases_cover_the_mapping_and_items_are_decided_and_delivered_through_it(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    with container.context(world.client_user) as ctx:
        draft = rulesets.create_version(ctx, process_id, GRAPH, mapping=MAPPING)
        rulesets.add_test(
            ctx, draft.id, name="healthy", data=HEALTHY, expected={"outcome": "decline"}
        )
        draft_id = draft.id
    with container.context(world.client_user) as ctx, pytest.raises(Conflict) as refused:
        rulesets.publish(ctx, draft_id)  # the mapping says approve: the case fails
    [failure] = refused.value.extra["failures"]
    assert failure["actual"]["outcome"] == "approve"
    assert failure["actual"]["delivered"]["totalRiskScore"] == 0
    with container.context(world.client_user) as ctx:
        published = rulesets.publish_version(
            ctx,
            process_id,
            GRAPH,
            [
                ("healthy", HEALTHY, {"outcome": "approve", "reasons": []}),
                ("abroad", REFERRED, {"outcome": "refer"}),
            ],
            mapping=MAPPING,
        )
        assert published.mapping == MAPPING
        item, _ = submit_item(ctx, process_id, HEALTHY, at_risk_fraction=0.75)
        assert item.state == "delivered"
        assert item.result is not None
        assert item.result["outcome"] == "approve"
        assert item.result["details"] == {
            "totalRiskScore": 0,
            "underwriting.needsManualReview": False,
        }
        referred, _ = submit_item(ctx, process_id, REFERRED, at_risk_fraction=0.75)
        assert referred.state == "queued"


def test_a_graph_drafts_its_input_form(container: Container, world: World, api: Any) -> None:
    response = api("client").post("/api/v1/rulesets/draft-form", json={"graph": GRAPH})
    assert response.status_code == 200, response.text
    answers = response.json()["input_schema"]["properties"]["answers"]["properties"]
    assert answers["age"] == {"type": "number"}
    assert answers["hasForeignResidency"] == {"type": "boolean"}
    bad = api("client").post(
        "/api/v1/rulesets/draft-form", json={"graph": {"nodes": [{}], "edges": []}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "node 1"
    assert (
        api("agent").post("/api/v1/rulesets/draft-form", json={"graph": GRAPH}).status_code == 403
    )
