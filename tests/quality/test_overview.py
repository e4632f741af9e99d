"""What the quality pages read beside the measures (tandem.quality.overview): names scoped to
the caller, groups of the accuracy report in words, each process's policy with its CSP-1
plan, and the alerts acknowledged lately with who acknowledged them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Forbidden, NotFound
from tandem.quality import overview, reviews, standing
from tandem.quality.models import QualityAlert
from tandem.quality.sampling import plan_for
from tandem.tenancy.principal import Principal
from tests.conftest import RESULT, World
from tests.quality.conftest import Person, set_policy, work

OPS = Principal(uuid.UUID(int=7), "ops_manager", None, None)
WRONG = {**RESULT, "coverage_amount": 205000}


def test_names_are_the_callers_own_and_groups_read_in_words(
    container: Container, world: World
) -> None:
    with container.context(OPS) as ctx:
        staff = overview.names(ctx)
        agents = overview.agent_names(ctx, [world.agent_id, uuid.uuid4()])
    assert set(staff.clients.values()) == {"Insurer", "Retailer"}
    assert set(staff.processes) == {world.process_id, world.other_process_id}
    assert agents == {world.agent_id: "Test Agent"}  # an unknown agent is not named
    assert staff.group("process", str(world.process_id), with_client=True) == "Insurer · Keying"
    assert staff.group("client", str(world.client_id)) == "Insurer"
    field = f"{world.process_id}/coverage_amount"
    assert staff.group("field", field) == "Keying · Coverage amount"
    assert staff.group("agent", "not an id") == "not an id"

    with container.context(world.client_user) as ctx:
        theirs = overview.names(ctx)
        assert overview.agent_names(ctx, [world.agent_id]) == {}  # agents are the provider's
    assert theirs.clients == {world.client_id: "Insurer"}
    assert set(theirs.processes) == {world.process_id}
    # Another client's process reads as an id, never by its name.
    assert theirs.process(world.other_process_id).startswith("Process ")


def test_field_titles_come_from_the_form_and_a_conversation_reads_its_scorecard(
    container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        process = session.scalars(select(Process).where(Process.id == world.process_id)).one()
        schema = dict(process.form_schema)
        properties = dict(schema["properties"])
        properties["coverage_amount"] = {**properties["coverage_amount"], "title": "Cover (USD)"}
        process.form_schema = {**schema, "properties": properties}
        other = session.scalars(select(Process).where(Process.id == world.other_process_id)).one()
        other.kind = "conversation"
    with container.context(OPS) as ctx:
        names = overview.names(ctx)
        views = {view.process_id: view for view in overview.policies(ctx)}
    assert names.group("field", f"{world.process_id}/coverage_amount") == "Keying · Cover (USD)"
    assert views[world.process_id].checks == ("Applicant name", "Cover (USD)")
    assert views[world.other_process_id].checks == (
        "Greeting",
        "Accuracy",
        "Tone",
        "Resolution",
        "Compliance",
    )


def test_policies_are_scoped_and_sampling_shows_its_plan(
    container: Container, world: World
) -> None:
    set_policy(container, world.process_id, "sampling", aoql=0.02, gold_rate=0.1)
    with container.context(OPS) as ctx:
        views = overview.policies(ctx)
        one = overview.policy(ctx, world.process_id)
    assert [(view.client, view.process) for view in views] == [
        ("Insurer", "Keying"),
        ("Retailer", "Keying"),
    ]
    plan = plan_for(0.02, 0.02)
    assert (one.mode, one.aoql, one.gold_rate, one.min_accuracy) == ("sampling", 0.02, 0.1, 0.95)
    assert (one.clearance, one.fraction) == (plan.clearance, plan.fraction)
    assert one.review_fraction_at_1_percent is not None
    assert one.fraction is not None and one.fraction <= one.review_fraction_at_1_percent <= 1
    assert views[1].clearance is None and views[1].mode == "none"  # no plan without sampling

    with container.context(world.client_user) as ctx:
        assert [view.process_id for view in overview.policies(ctx)] == [world.process_id]
        with pytest.raises(NotFound):
            overview.policy(ctx, world.other_process_id)


def test_acknowledged_alerts_name_who_acknowledged_them(
    container: Container, world: World, person: Any
) -> None:
    set_policy(container, world.process_id, "full_review", min_accuracy=0.9)
    reviewer: Person = person("qa_reviewer")
    for n in range(12):
        world.submit(container)
        wrong = n % 2 == 1
        ref = work(container, world.agent_id, WRONG if wrong else RESULT)
        with container.context(reviewer.principal) as ctx:
            reviews.review(
                ctx,
                ref.id,
                failures=[reviews.Failure("coverage_amount", "wrong_value")] if wrong else [],
                verdict="correct" if wrong else "deliver",
                corrected=RESULT if wrong else None,
                lease=container.dispatcher.lease,
            )
    lead: Person = person("team_lead")
    with container.context(lead.principal) as ctx:
        (alert,) = ctx.session.scalars(select(QualityAlert)).all()
        assert overview.acknowledged_alerts(ctx, ctx.now - timedelta(days=30)) == []
        standing.acknowledge_alert(ctx, alert.id)
    container.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    with container.context(OPS) as ctx:
        (seen,) = overview.acknowledged_alerts(ctx, ctx.now - timedelta(days=30))
        assert seen.alert.id == alert.id and seen.by == "team_lead 2"
        assert overview.acknowledged_alerts(ctx, ctx.now - timedelta(minutes=1)) == []
    with container.context(world.client_user) as ctx, pytest.raises(Forbidden):
        overview.acknowledged_alerts(ctx, ctx.now - timedelta(days=30))


def test_two_agents_of_one_name_are_told_apart() -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    names = overview.Names({}, {}, {first: "Ana Cruz", second: "Ana Cruz", third: "Bo Li"})
    assert names.agent(first) == f"Ana Cruz ({str(first)[-8:]})"
    assert names.agent(second) != names.agent(first)
    assert names.agent(third) == "Bo Li"
    assert names.agent(uuid.UUID(int=5)) == "Agent 00000005"
