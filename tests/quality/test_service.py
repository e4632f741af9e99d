"""Quality control through the real dispatcher and database: CSP-1 in the loop, reviews,
rework, double entry, gold scoring, the client's rejections, accuracy and alerts."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.quality import double_entry, gold, rejection, report, reviews
from tandem.quality.models import AgentQuality, FieldCheck, QualityAlert, Review
from tandem.tenancy.context import Context
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tests.conftest import RESULT, World
from tests.quality.conftest import Person, set_policy, work

WRONG = {**RESULT, "coverage_amount": 205000}


class Always(random.Random):
    """An rng whose every draw is `value`: sample always (0.0) or never (0.999)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def _item(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


def _review(container: Container, reviewer: Principal, item_id: uuid.UUID, **kwargs: Any) -> Review:
    kwargs.setdefault("verdict", "deliver")
    kwargs.setdefault("failures", [])
    with container.context(reviewer) as ctx:
        return reviews.review(ctx, item_id, lease=container.dispatcher.lease, **kwargs)


def _standing(container: Container, world: World, agent_id: uuid.UUID) -> AgentQuality:
    with transaction(container.sessions) as session:
        row = session.get_one(AgentQuality, (world.client_id, world.process_id, agent_id))
        session.expunge(row)
        return row


def _failure(name: str = "coverage_amount") -> list[reviews.Failure]:
    return [reviews.Failure(name, "wrong_value")]


@pytest.fixture
def reviewer(person: Any) -> Principal:
    made: Person = person("qa_reviewer")
    return made.principal


# -- sampling (CSP-1) in the loop ------------------------------------------------------------


def test_a_new_agent_is_screened_until_clearance_then_sampled_and_a_defect_screens_again(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "sampling", aoql=0.05)
    agent = world.agent_id
    screened = 0
    while True:  # every item is reviewed until `clearance` pass in a row
        world.submit(container)
        ref = work(container, agent)
        if ref.state is State.DELIVERED:
            break
        assert ref.state is State.IN_REVIEW
        _review(container, reviewer, ref.id)
        screened += 1
        assert screened < 500, "never cleared"
    standing = _standing(container, world, agent)
    assert not standing.screening
    # Cleared at the clearance of the plan then in force (re-chosen as the rate fell).
    assert screened >= standing.clearance >= 1
    assert standing.reviewed == screened and standing.defects == 0

    container.dispatcher.rng = Always(0.999)  # above any fraction: not sampled
    world.submit(container)
    assert work(container, agent).state is State.DELIVERED

    container.dispatcher.rng = Always(0.0)  # sampled
    world.submit(container)
    sampled = work(container, agent, WRONG)
    assert sampled.state is State.IN_REVIEW
    with container.context(reviewer) as ctx:
        request, _ = reviews.waiting(ctx, sampled.id)
        assert request.kind == "sample"
    _review(
        container, reviewer, sampled.id, failures=_failure(), verdict="correct", corrected=RESULT
    )
    standing = _standing(container, world, agent)
    assert standing.screening and standing.passes_in_a_row == 0 and standing.defects == 1
    assert _item(container, sampled.id).result == RESULT  # corrected and delivered

    container.dispatcher.rng = Always(0.999)  # screening reviews whatever the draw
    world.submit(container)
    assert work(container, agent).state is State.IN_REVIEW


def test_processes_without_qa_deliver_at_submit(container: Container, world: World) -> None:
    world.submit(container)
    ref = work(container, world.agent_id)
    assert ref.state is State.DELIVERED
    assert _item(container, ref.id).delivered_at is not None


# -- reviews and rework ----------------------------------------------------------------------


def test_a_review_names_unknown_fields_and_categories_and_refuses_mismatched_verdicts(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "full_review")
    world.submit(container)
    ref = work(container, world.agent_id, WRONG)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"failures": [reviews.Failure("premium", "wrong_value")]}, "failures[0].name"),
        ({"failures": [reviews.Failure("coverage_amount", "typo")]}, "failures[0].category"),
        ({"failures": _failure(), "verdict": "deliver"}, "verdict"),
        ({"verdict": "rework", "rework_to": "same"}, "verdict"),
        ({"failures": _failure(), "verdict": "rework"}, "rework_to"),
        ({"failures": _failure(), "verdict": "correct"}, "corrected"),
        (
            {
                "failures": _failure(),
                "verdict": "correct",
                "corrected": {**RESULT, "coverage_amount": 5},
            },
            "corrected.coverage_amount",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as refused:
            _review(container, reviewer, ref.id, **kwargs)
        assert field in {e["field"] for e in refused.value.extra["errors"]}, kwargs
    assert _item(container, ref.id).state == "in_review"  # nothing half-written
    with transaction(container.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Review)) == 0


def test_nobody_reviews_their_own_work(container: Container, world: World, person: Any) -> None:
    set_policy(container, world.process_id, "full_review")
    lead: Person = person("team_lead", agent=True)
    world.submit(container)
    ref = work(container, lead.agent_id)
    with pytest.raises(Conflict, match="four eyes"):
        _review(container, lead.principal, ref.id)


def test_rework_to_the_same_agent_leases_it_to_them_and_the_redone_work_is_reviewed(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "full_review")
    world.submit(container)
    ref = work(container, world.agent_id, WRONG)
    _review(container, reviewer, ref.id, failures=_failure(), verdict="rework", rework_to="same")
    item = _item(container, ref.id)
    assert (item.state, item.lease_owner, item.attempt) == ("leased", world.agent_id, 2)
    with transaction(container.sessions) as session:
        redone = container.dispatcher.submit(session, world.agent_id, ref.id, 2, RESULT)
        assert redone.state is State.IN_REVIEW
    with container.context(reviewer) as ctx:
        request, _ = reviews.waiting(ctx, ref.id)
        assert request.kind == "rework"
    _review(container, reviewer, ref.id)
    assert _item(container, ref.id).state == "delivered"
    with transaction(container.sessions) as session:
        verdicts = session.scalars(
            select(Review.verdict).where(Review.work_item_id == ref.id).order_by(Review.at)
        ).all()
    window = {"since": _later(container) - timedelta(days=1), "until": _later(container)}
    with container.context(world.client_user) as ctx:
        (quality,) = [
            row for row in report.report(ctx, **window) if row.process_id == world.process_id
        ]
    assert verdicts == ["rework", "deliver"]
    assert (quality.sent_back, quality.submitted, quality.reviewed) == (1, 2, 2)  # counted


def test_rework_to_another_agent_keeps_it_from_the_first(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "full_review")
    other = world.add_agents(container, 1)[0]
    world.submit(container)
    ref = work(container, world.agent_id, WRONG)
    _review(container, reviewer, ref.id, failures=_failure(), verdict="rework", rework_to="other")
    item = _item(container, ref.id)
    assert (item.state, item.excluded_agent_id) == ("queued", world.agent_id)
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, world.agent_id) is None
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, other)
    assert lease is not None and lease.item_id == ref.id


def test_a_conversation_is_scored_on_the_scorecard(
    container: Container, world: World, reviewer: Principal
) -> None:
    from tandem.catalog.models import Process

    with transaction(container.sessions) as session:
        process = session.get_one(Process, (world.client_id, world.process_id))
        process.kind = "conversation"  # the same form, scored as a conversation
    set_policy(container, world.process_id, "full_review")
    world.submit(container)
    ref = work(container, world.agent_id)
    with pytest.raises(InvalidInput):
        _review(container, reviewer, ref.id, failures=_failure("applicant_name"))
    found = _review(
        container,
        reviewer,
        ref.id,
        failures=[reviews.Failure("tone", "communication")],
        verdict="rework",
        rework_to="other",
    )
    assert [c["name"] for c in found.checks] == [
        "greeting",
        "accuracy",
        "tone",
        "resolution",
        "compliance",
    ]
    assert [c["name"] for c in found.checks if not c["passed"]] == ["tone"]


# -- double entry ----------------------------------------------------------------------------


def test_double_entry_keeps_the_first_keying_out_of_sight_and_adjudication_scores_both(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "double_entry")
    first, second = world.agent_id, world.add_agents(container, 1)[0]
    world.submit(container)
    keyed = work(container, first, {"applicant_name": "Maria Santos", "coverage_amount": 250000})
    item = _item(container, keyed.id)
    assert (item.state, item.result, item.excluded_agent_id) == ("queued", None, first)
    with transaction(container.sessions) as session:  # never back to the first keyer
        assert container.dispatcher.claim(session, first) is None
    rekeyed = work(container, second, {"applicant_name": "MARIA  SANTOS", "coverage_amount": 25000})
    assert rekeyed.state is State.IN_REVIEW
    assert _item(container, keyed.id).result is None

    keyer = Principal(uuid.uuid4(), "team_lead", None, second)
    with container.context(keyer) as ctx, pytest.raises(NotFound):
        double_entry.adjudication(ctx, keyed.id)
    with container.context(reviewer) as ctx:
        case = double_entry.adjudication(ctx, keyed.id)
        assert case.disagreements == ["coverage_amount"]
        assert [k.agent_id for k in case.keyings] == [first, second]
    with container.context(reviewer) as ctx:
        right = {"applicant_name": "Maria Santos", "coverage_amount": 250000}
        settled = double_entry.adjudicate(ctx, keyed.id, right)
        assert settled.state == "delivered"
    with transaction(container.sessions) as session:
        checks = {
            (row.agent_id, row.field): row.passed
            for row in session.scalars(select(FieldCheck).where(FieldCheck.field != ""))
        }
    assert checks == {
        (first, "applicant_name"): True,
        (first, "coverage_amount"): True,
        (second, "applicant_name"): True,  # the same name once normalized
        (second, "coverage_amount"): False,
    }


def test_double_entry_agreement_delivers_without_anyone_looking(
    container: Container, world: World
) -> None:
    set_policy(container, world.process_id, "double_entry")
    second = world.add_agents(container, 1)[0]
    world.submit(container)
    keyed = {"applicant_name": "Maria Santos", "coverage_amount": 1e5}
    ref = work(container, world.agent_id, keyed)
    done = work(container, second, {"applicant_name": " maria santos", "coverage_amount": 100000})
    assert done.state is State.DELIVERED
    assert _item(container, ref.id).result == {
        "applicant_name": "Maria Santos",
        "coverage_amount": 1e5,
    }


# -- gold items ------------------------------------------------------------------------------


def test_gold_items_are_seeded_at_the_rate_scored_and_retired(
    container: Container, world: World
) -> None:
    set_policy(container, world.process_id, "none", gold_rate=0.5)
    now = container.clock.now
    with container.context(Principal(uuid.uuid4(), "ops_manager", None, None)) as ctx:
        gold.add_gold_item(ctx, world.process_id, {"document_ref": "gold-1"}, RESULT)
        seeded = gold.seed_gold(
            ctx.session, now(), random.Random(1), 0.75, keyring=container.keyring
        )
        assert seeded == 0  # starts counting
    container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    for i in range(5):
        world.submit(container, f"doc-{i}")
    with transaction(container.sessions) as session:
        seeded = gold.seed_gold(session, now(), random.Random(1), 0.75, keyring=container.keyring)
        assert seeded == 2  # 2.5 owed
    with transaction(container.sessions) as session:
        golds = session.scalars(select(WorkItem).where(WorkItem.gold.is_(True))).all()
        assert len(golds) == 2
        assert report_visible(session, world, container) == 5  # the client never sees them
    results = []
    for _ in range(7):  # work everything: gold items are ordinary to the agent
        results.append(work(container, world.agent_id, WRONG))
    retired = [r for r in results if r.state is State.CANCELLED]
    assert len(retired) == 2
    with transaction(container.sessions) as session:
        scored = session.scalars(select(Review).where(Review.kind == "gold")).all()
    assert len(scored) == 2 and all(r.defect for r in scored)
    assert {c["name"] for r in scored for c in r.checks if not c["passed"]} == {"coverage_amount"}


def report_visible(session: Any, world: World, container: Container) -> int:
    from tandem.work.queries import ItemSearch, find

    ctx = Context(session, world.client_user, container.clock.now(), container.keyring, b"")
    return find(ctx, ItemSearch(process_id=world.process_id)).total


# -- the client's acceptance -----------------------------------------------------------------


def test_a_rejected_delivery_is_an_escaped_defect_and_the_redone_work_is_reviewed(
    container: Container, world: World, reviewer: Principal
) -> None:
    world.submit(container)
    ref = work(container, world.agent_id, WRONG)
    assert ref.state is State.DELIVERED
    reject = partial(rejection.reject_delivered, at_risk_fraction=0.75)
    with container.context(world.other_client_user) as ctx, pytest.raises(NotFound):
        reject(ctx, ref.id, reason="x")
    with container.context(world.client_user) as ctx, pytest.raises(InvalidInput):
        reject(ctx, ref.id, reason="x", fields=["premium"])
    with container.context(world.client_user) as ctx:
        item = reject(ctx, ref.id, reason="coverage should be 250,000", fields=["coverage_amount"])
        assert item.state == "queued"
    with container.context(world.client_user) as ctx, pytest.raises(Conflict):
        reject(ctx, ref.id, reason="x")
    with transaction(container.sessions) as session:
        escaped = session.scalars(select(Review).where(Review.kind == "acceptance")).one()
        assert (escaped.agent_id, escaped.defect, escaped.verdict) == (
            world.agent_id,
            True,
            "reject",
        )
    redone = work(container, world.agent_id, RESULT)
    assert redone.state is State.IN_REVIEW  # no QA mode, but redone work is checked
    _review(container, reviewer, redone.id)
    assert _item(container, redone.id).state == "delivered"


# -- accuracy, the report, alerts ------------------------------------------------------------


def test_accuracy_report_and_one_alert_when_an_agent_falls_below_the_threshold(
    container: Container, world: World, reviewer: Principal
) -> None:
    set_policy(container, world.process_id, "full_review", min_accuracy=0.9)
    for i in range(12):
        world.submit(container)
        ref = work(container, world.agent_id, WRONG if i % 2 else RESULT)
        if i % 2:
            _review(
                container,
                reviewer,
                ref.id,
                failures=_failure(),
                verdict="correct",
                corrected=RESULT,
            )
        else:
            _review(container, reviewer, ref.id)
    with transaction(container.sessions) as session:
        alerts = session.scalars(select(QualityAlert)).all()
        assert len(alerts) == 1  # once, when the interval's top fell below 0.9
        assert alerts[0].agent_id == world.agent_id and alerts[0].high < 0.9
    window = {"since": container.clock.now().replace(year=2000), "until": _later(container)}
    with container.context(Principal(uuid.uuid4(), "ops_manager", None, None)) as ctx:
        by_field = {
            row.group.split("/")[1]: row.fields
            for row in report.accuracy(ctx, by="field", **window)
        }
        assert (by_field["coverage_amount"].checked, by_field["coverage_amount"].correct) == (12, 6)
        assert by_field["applicant_name"].correct == 12
        (by_agent,) = report.accuracy(ctx, by="agent", **window)
        assert by_agent.items is not None and (by_agent.items.checked, by_agent.items.correct) == (
            12,
            6,
        )
        assert by_agent.items.low < 0.5 < by_agent.items.high
    with container.context(world.client_user) as ctx:
        (quality,) = [
            row for row in report.report(ctx, **window) if row.process_id == world.process_id
        ]
    assert _standing(container, world, world.agent_id).below_threshold
    assert (quality.submitted, quality.reviewed, quality.defects_found) == (12, 12, 6)
    assert quality.sent_back == 0  # all six were corrected, none sent back
    assert quality.review_fraction == 1.0 and quality.delivered == 12
    assert quality.estimated_escapes == 0.0 and quality.estimated_accuracy == 1.0
    assert quality.target_accuracy == 0.99 and quality.meets_target


def _later(container: Container) -> Any:
    return container.clock.now() + timedelta(seconds=1)
