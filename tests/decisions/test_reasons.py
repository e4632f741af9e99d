"""The reasons catalogue a version brings (labels and descriptions of its codes), rules in
words, who uploaded and published a version, copying test cases, and the measures day by
day: through the use cases, on the real database."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import Workbook

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.decisions import backtest, excel, measures, reasons, rulesets
from tandem.decisions import underwriting as uw
from tandem.decisions.jdm import Column, Graph, Rule, table
from tandem.intake.service import submit_item
from tests.conftest import World
from tests.decisions.conftest import ABROAD, BASE, HIGH_RISK


def test_a_catalogue_reads_codes_as_labels_and_unknown_ones_in_words() -> None:
    found = reasons.catalogue(
        {"RESIDES_ABROAD": {"label": "Lives abroad", "description": "Outside the US."}},
        {"SCORE_LIMIT": {"label": "Score to review"}},
    )
    abroad = found.of("RESIDES_ABROAD")
    assert (abroad.label, abroad.description, abroad.known) == (
        "Lives abroad",
        "Outside the US.",
        True,
    )
    assert (found.of("SCORE_LIMIT").label, found.of("SCORE_LIMIT").description) == (
        "Score to review",
        None,
    )
    # A code no catalogue knows reads in words; Tandem's own codes have labels of their own.
    assert found.of("COVERAGE_LIMIT").label == "Coverage limit"
    assert found.of("riskTooHigh").label == "RiskTooHigh"
    assert found.of("NOT_CONFIRMED").label == "Not confirmed"
    assert found.of("NO_OUTCOME").description is not None
    # A later catalogue's entry wins.
    newer = reasons.merged(found, reasons.catalogue({"SCORE_LIMIT": {"label": "Score high"}}))
    assert newer.of("SCORE_LIMIT").label == "Score high"
    assert newer.of("RESIDES_ABROAD").label == "Lives abroad"


def test_the_demo_rules_describe_every_reason_they_give() -> None:
    nodes = {node["id"]: node.get("content") for node in uw.graph()["nodes"]}
    given = {rule["out0"].strip('"') for rule in nodes["checks"]["rules"]}
    given |= {rule["out1"].strip("[]'") for rule in nodes["outcome"]["rules"]}
    assert given == set(uw.REASONS)
    assert reasons.problems(uw.REASONS) == []


@pytest.mark.parametrize(
    ("catalogue", "field"),
    [
        ({"SCORE_LIMIT": {"label": ""}}, "reasons.SCORE_LIMIT.label"),
        ({"SCORE_LIMIT": {"label": "x" * 121}}, "reasons.SCORE_LIMIT.label"),
        ({"SCORE_LIMIT": {"label": "Score", "colour": "red"}}, "reasons.SCORE_LIMIT.colour"),
        ({"SCORE_LIMIT": {"label": "Score", "description": 3}}, "reasons.SCORE_LIMIT.description"),
        ({"SCORE_LIMIT": "Score"}, "reasons.SCORE_LIMIT"),
        ({" PADDED": {"label": "Padded"}}, "reasons. PADDED"),
        (["SCORE_LIMIT"], "reasons"),
    ],
)
def test_a_wrong_catalogue_is_refused_at_its_place(
    container: Container, world: World, process_id: uuid.UUID, catalogue: Any, field: str
) -> None:
    with container.context(world.client_user) as ctx, pytest.raises(InvalidInput) as refused:
        rulesets.create_version(ctx, process_id, uw.graph(), reasons=catalogue)
    assert field in [error["field"] for error in refused.value.extra["errors"]]


def test_a_version_keeps_its_catalogue_and_who_uploaded_and_published_it(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    catalogue = {
        "RESIDES_ABROAD": {"label": "  Lives abroad ", "description": "  "},
        "SCORE_LIMIT": {"label": "Score to review", "description": "40 to 79 points."},
    }
    with container.context(world.client_user) as ctx:
        first = rulesets.publish_version(ctx, process_id, uw.graph(), uw.tests(), reasons=catalogue)
        assert first.reasons == {
            "RESIDES_ABROAD": {"label": "Lives abroad"},
            "SCORE_LIMIT": {"label": "Score to review", "description": "40 to 79 points."},
        }
        actor = f"user:{world.client_user.user_id}"
        assert (first.created_by, first.published_by) == (actor, actor)
        second = rulesets.create_version(
            ctx, process_id, uw.graph(), reasons={"SCORE_LIMIT": {"label": "Score high"}}
        )
        assert second.published_by is None
        across = reasons.of_process(ctx.session, world.client_id, process_id)
        # The newer version's entry wins; the older one's other codes are still known.
        assert across.of("SCORE_LIMIT").label == "Score high"
        assert across.of("RESIDES_ABROAD").label == "Lives abroad"
        assert reasons.of_ruleset(second).of("RESIDES_ABROAD").label == "Resides abroad"


def test_a_decisions_reasons_read_by_the_catalogue_of_the_version_that_decided(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    with container.context(world.client_user) as ctx:
        rulesets.publish_version(ctx, process_id, uw.graph(), uw.tests(), reasons=uw.REASONS)
        item, _ = submit_item(ctx, process_id, ABROAD, at_risk_fraction=0.75)
        from tandem.decisions.referrals import item_decisions

        decisions = item_decisions(ctx.session, world.client_id, item.id)
        found = reasons.of_decisions(ctx.session, decisions)
    assert [d.reasons for d in decisions] == [["RESIDES_ABROAD"]]
    assert found.of("RESIDES_ABROAD").label == "Lives abroad"
    assert "outside the US" in (found.of("RESIDES_ABROAD").description or "")


def _undescribed() -> dict[str, Any]:
    """A table whose rules have ids but no descriptions, as GoRules' editor makes them."""
    g = Graph()
    g.add("request", "inputNode", "Application")
    content = table(
        [Column("Age", "age"), Column("Country", "country")],
        [Column("Outcome", "outcome"), Column("Reasons", "reasons")],
        [
            Rule(["< 18", ""], ["'decline'", "['AGE_UNDER_18']"]),
            Rule(["", '"GB", "FR"'], ["'refer'", "['RESIDES_ABROAD']"]),
            Rule(["", ""], ["'approve'", "['STANDARD_RISK']"]),
        ],
    )
    for rule in content["rules"]:
        del rule["_description"]
    g.add("outcome", "decisionTableNode", "Outcome", content)
    g.add("response", "outputNode", "Decision")
    g.chain("request", "outcome", "response")
    return g.as_json()


def test_rules_without_descriptions_read_by_their_number_and_conditions(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    graph = _undescribed()
    assert reasons.rule_names(graph) == {
        ("Outcome", "r1"): "rule 1: Age < 18",
        ("Outcome", "r2"): 'rule 2: Country "GB", "FR"',
        ("Outcome", "r3"): "rule 3: anything else",
    }
    with container.context(world.client_user) as ctx:
        ruleset = rulesets.create_version(ctx, process_id, graph)
        trace = rulesets.rules_of(ruleset).trace(ABROAD)
    assert [step["matched"] for step in trace] == [["r2"]]  # the engine gives the id
    readable = reasons.readable_trace(graph, trace)
    assert [step["matched"] for step in readable] == [['rule 2: Country "GB", "FR"']]
    # The demo's rules are described: the trace names them by their description.
    with container.context(world.client_user) as ctx:
        demo = rulesets.create_version(ctx, process_id, uw.graph())
        matched = [s.get("matched") for s in rulesets.rules_of(demo).trace(ABROAD)]
    assert ["lives abroad"] in matched


def _workbook(reason_rows: list[list[Any]] | None) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "out:outcome", "out:reasons"])
    sheet.append(["US", "approve", '["STANDARD_RISK"]'])
    sheet.append([None, "refer", '["RESIDES_ABROAD"]'])
    if reason_rows is not None:
        reasons_sheet = book.create_sheet("Reasons")
        for row in reason_rows:
            reasons_sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def test_a_spreadsheet_brings_its_catalogue_on_a_sheet_of_reasons() -> None:
    graph, catalogue = excel.read_rules(
        _workbook(
            [
                ["code", "label", "description"],
                ["STANDARD_RISK", "Standard risk", "Nothing stands out."],
                [None, None, None],
                ["RESIDES_ABROAD", "Lives abroad", None],
            ]
        )
    )
    assert graph["nodes"][1]["type"] == "decisionTableNode"
    assert catalogue == {
        "STANDARD_RISK": {"label": "Standard risk", "description": "Nothing stands out."},
        "RESIDES_ABROAD": {"label": "Lives abroad"},
    }
    assert excel.read_rules(_workbook(None))[1] is None
    with pytest.raises(InvalidInput) as refused:
        excel.read_rules(
            _workbook(
                [
                    ["code", "label"],
                    ["STANDARD_RISK", None],
                    ["STANDARD_RISK", "Standard risk"],
                    ["STANDARD_RISK", "Again"],
                ]
            )
        )
    assert refused.value.extra["errors"] == [
        {"field": "sheet 'Reasons', row 2", "message": "give a label for STANDARD_RISK"},
        {"field": "sheet 'Reasons', row 4", "message": "code STANDARD_RISK is given twice"},
    ]
    with pytest.raises(InvalidInput) as headless:
        excel.read_rules(_workbook([["what", "why"]]))
    assert headless.value.extra["errors"][0]["field"] == "sheet 'Reasons', row 1"


def test_a_draft_takes_another_versions_test_cases(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    with container.context(world.client_user) as ctx:
        first = rulesets.publish_version(ctx, process_id, uw.graph(), uw.tests())
        draft = rulesets.create_version(ctx, process_id, uw.graph())
        name, data, _ = uw.tests()[0]
        rulesets.add_test(ctx, draft.id, name=name, data=data, expected={"outcome": "refer"})
        copied = rulesets.copy_tests(ctx, draft.id, first.version)
        # Its own test of the same name stays as it is; the others are copied.
        assert sorted(t.name for t in copied) == sorted(n for n, _, _ in uw.tests()[1:])
        runs = {run.name: run.passed for run in rulesets.run_tests(ctx, draft.id)}
        assert runs.pop(name) is False and all(runs.values())
        with pytest.raises(NotFound):
            rulesets.copy_tests(ctx, draft.id, 9)
        with pytest.raises(Conflict):  # a published version never changes
            rulesets.copy_tests(ctx, first.id, draft.version)


def test_the_measures_count_the_rules_decisions_day_by_day_in_the_clients_days(
    container: Container, world: World, process_id: uuid.UUID, clock: ManualClock
) -> None:
    with container.context(world.client_user) as ctx:
        rulesets.publish_version(ctx, process_id, uw.graph(), uw.tests())
    # T0 is 10:00 in New York (the insurer's zone): two days ago, then now.
    clock.set(clock.now() - timedelta(days=2))
    for data in (BASE, ABROAD):
        with container.context(world.client_user) as ctx:
            submit_item(ctx, process_id, data, at_risk_fraction=0.75)
    clock.advance(timedelta(days=2))
    for data in (BASE, HIGH_RISK, ABROAD, ABROAD):
        with container.context(world.client_user) as ctx:
            submit_item(ctx, process_id, data, at_risk_fraction=0.75)
    # 04:30 UTC tomorrow is still today in New York.
    clock.advance(timedelta(hours=13, minutes=30))
    with container.context(world.client_user) as ctx:
        submit_item(ctx, process_id, BASE, at_risk_fraction=0.75)
        found = measures.measures(ctx, process_id)
    assert found.timezone == "America/New_York"
    assert len(found.per_day) == measures.DAYS
    days = {day["day"]: day for day in found.per_day}
    assert found.per_day[-1]["day"] == "2026-03-04"
    assert days["2026-03-02"] == {"day": "2026-03-02", "approve": 1, "decline": 0, "refer": 1}
    assert days["2026-03-04"] == {"day": "2026-03-04", "approve": 2, "decline": 1, "refer": 2}
    assert sum(day["approve"] + day["refer"] + day["decline"] for day in found.per_day) == 7


def test_a_backtest_counts_each_versions_outcomes() -> None:
    report = backtest.compare(
        [
            backtest.Case("approve", "approve", ("STANDARD_RISK",), None),
            backtest.Case("approve", "refer", ("RESIDES_ABROAD",), "approve"),
            backtest.Case("refer", "decline", ("HIGH_RISK",), "decline"),
        ]
    ).as_dict()
    assert report["outcomes"] == {
        "published": {"approve": 2, "refer": 1},
        "draft": {"approve": 1, "decline": 1, "refer": 1},
    }
