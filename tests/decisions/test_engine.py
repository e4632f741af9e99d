"""The rules engine wrapper and graph checks: no database needed."""

from __future__ import annotations

import copy
import io
import json

import pytest

from tandem.decisions import engine, excel
from tandem.decisions import underwriting as uw
from tandem.decisions.backtest import Case, compare
from tandem.decisions.jdm import Column, Graph, Rule, expressions, table

FIELDS = set(uw.INPUT_SCHEMA["properties"])


def _one_table(hit_policy: str) -> dict:
    g = Graph()
    g.add("in", "inputNode", "in")
    g.add(
        "t",
        "decisionTableNode",
        "Bands",
        table(
            [Column("Age", "age")],
            [Column("Outcome", "outcome"), Column("Reasons", "reasons")],
            [
                Rule(["> 60"], ['"refer"', '["OLD"]']),
                Rule(["> 40"], ['"approve"', '["MIDDLE"]']),
                Rule([""], ['"approve"', '["ANY"]']),
            ],
            hit_policy=hit_policy,
            output_path="hits" if hit_policy == "collect" else None,
        ),
    )
    g.add("out", "outputNode", "out")
    g.chain("in", "t", "out")
    return g.as_json()


def test_first_hit_policy_takes_the_first_matching_rule() -> None:
    rules = engine.compiled(_one_table("first"))
    assert rules.decide({"age": 70}).reasons == ["OLD"]
    assert rules.decide({"age": 50}).reasons == ["MIDDLE"]
    assert rules.decide({"age": 20}).reasons == ["ANY"]


def test_collect_hit_policy_gathers_every_matching_rule() -> None:
    hits = engine.compiled(_one_table("collect")).evaluate({"age": 70})["hits"]
    assert [hit["reasons"] for hit in hits] == [["OLD"], ["MIDDLE"], ["ANY"]]


@pytest.mark.parametrize(("name", "data", "expected"), uw.tests())
def test_underwriting_graph_uses_expression_and_switch_nodes(
    name: str, data: dict, expected: dict
) -> None:
    result = engine.compiled(uw.graph()).evaluate(data)
    assert {k: result.get(k) for k in expected} == expected, name


def test_switch_routes_incomplete_data_to_a_referral_with_every_issue() -> None:
    data = {**uw.tests()[0][1], "age": None, "bmi": None}
    verdict = engine.compiled(uw.graph()).decide(data)
    assert (verdict.outcome, verdict.reasons) == ("refer", ["INCOMPLETE_AGE", "INCOMPLETE_BMI"])


def test_risk_points_are_summed_over_the_collected_factors() -> None:
    rules = engine.compiled(uw.graph())
    data = {**uw.tests()[0][1], "age": 50, "smoker": True}  # 10 + 20
    assert rules.evaluate(data)["score"] == 30
    trace = rules.trace(data)
    risk = next(step for step in trace if step["node"] == "Risk points")
    assert risk["matched"] == ["AGE_45_59", "SMOKER"]


def test_many_inputs_in_one_call_give_the_same_verdicts_as_one_by_one() -> None:
    rules = engine.compiled(uw.graph())
    inputs = [data for _, data, _ in uw.tests()]
    assert rules.decide_many(inputs) == [rules.decide(data) for data in inputs]
    as_text = [json.dumps(data) for data in inputs]
    assert rules.decide_many(as_text) == rules.decide_many(inputs)


def test_a_failing_input_is_referred_alone() -> None:
    g = Graph()
    g.add("in", "inputNode", "in")
    g.add(
        "x",
        "expressionNode",
        "Divide",
        {
            "expressions": [
                {"id": "e", "key": "outcome", "value": "a.b.c > 1 ? 'approve' : 'decline'"}
            ]
        },
    )
    g.add("out", "outputNode", "out")
    g.chain("in", "x", "out")
    rules = engine.compiled(g.as_json())
    verdicts = rules.decide_many([{"a": {"b": {"c": 2}}}, {"a": 5}, {"a": {"b": {"c": 0}}}])
    assert [v.outcome for v in verdicts][::2] == ["approve", "decline"]
    assert verdicts[1].outcome == "refer" and verdicts[1].reasons == [engine.RULES_ERROR]
    assert rules.trace({"a": 5}) == []  # the analyst's desk shows the reason, not a failure


def test_a_result_without_a_valid_outcome_is_referred() -> None:
    assert engine.verdict_of({"score": 3}).reasons == [engine.NO_OUTCOME]
    assert engine.verdict_of({"outcome": "approve", "reason": "OK"}).reasons == ["OK"]
    advised = {"outcome": "refer", "reasons": ["X"], "recommendation": "decline"}
    assert engine.verdict_of(advised).recommendation == "decline"
    assert engine.verdict_of({**advised, "outcome": "approve"}).recommendation is None
    assert engine.verdict_of({**advised, "recommendation": "maybe"}).recommendation is None


def test_check_names_an_unknown_field() -> None:
    problems = engine.check(uw.graph(), FIELDS - {"bmi"})
    assert problems and all("'bmi'" in p.message for p in problems)
    assert {p.where for p in problems} == {
        "node 'Data checks', column 'BMI'",
        "node 'Risk points', column 'BMI'",
    }


def test_check_names_a_bad_expression_by_node_rule_and_column() -> None:
    graph = copy.deepcopy(uw.graph())
    graph["nodes"][2]["content"]["rules"][1]["in0"] = "> > 3"
    [problem] = engine.check(graph, FIELDS)
    assert problem.where == "node 'Risk points', rule 2, column 'Age'"
    assert "> > 3" in problem.message


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ({"nodes": 1}, "a 'nodes' list"),
        ({"nodes": [{"id": "a", "type": "outputNode"}], "edges": []}, "exactly one inputNode"),
        (
            {"nodes": [{"id": "a", "type": "magicNode"}], "edges": []},
            "unknown node type 'magicNode'",
        ),
    ],
)
def test_check_refuses_a_malformed_graph(graph: dict, message: str) -> None:
    assert any(message in p.message for p in engine.check(graph, FIELDS))


def test_check_refuses_a_cycle() -> None:
    graph = copy.deepcopy(uw.graph())
    graph["edges"].append({"id": "back", "sourceId": "score", "targetId": "checks"})
    assert [p.where for p in engine.check(graph, FIELDS)] == ["graph"]


def test_excel_table_round_trip() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "in:coverage_amount", "out:outcome", "out:reasons", "description"])
    sheet.append(["US, CA", "<= 500000", "approve", '["STANDARD"]', "home market"])
    sheet.append([None, "> 500000", "refer", '["COVERAGE_LIMIT"]', "large cover"])
    sheet.append(["GB", None, "decline", '["NOT_SERVED"]', None])
    buffer = io.BytesIO()
    book.save(buffer)
    graph = excel.read_table(io.BytesIO(buffer.getvalue()))
    assert engine.check(graph, {"country", "coverage_amount"}) == []
    rules = engine.compiled(graph)
    assert rules.decide({"country": "CA", "coverage_amount": 100_000}).outcome == "approve"
    assert rules.decide({"country": "US", "coverage_amount": 900_000}).outcome == "refer"
    assert rules.decide({"country": "GB", "coverage_amount": 1}).reasons == ["NOT_SERVED"]
    again = excel.read_table(io.BytesIO(excel.write_table(graph)))
    assert again == graph


def test_excel_header_errors_name_the_cell() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:age", "outcome"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(Exception) as caught:
        excel.read_table(io.BytesIO(buffer.getvalue()))
    assert caught.value.extra["errors"][0]["field"] == "row 1, column 2"  # type: ignore[attr-defined]


def test_backtest_counts_on_a_known_data_set() -> None:
    cases = (
        [Case("refer", "approve", ("STANDARD",), "approve")] * 6  # newly automatic, agrees
        + [Case("refer", "approve", ("STANDARD",), "decline")] * 2  # newly automatic, disagrees
        + [Case("refer", "refer", ("SCORE",), "approve")] * 4  # still referred
        + [Case("approve", "approve", ("STANDARD",), None)] * 10  # unchanged
        + [Case("approve", "decline", ("HIGH",), None)] * 3  # stricter
    )
    report = compare(cases).as_dict()
    assert report["items"] == 25
    assert report["changed"] == 11
    assert report["transitions"] == {"refer->approve": 8, "approve->decline": 3}
    assert report["stp_rate_published"] == 13 / 25
    assert report["stp_rate_draft"] == 21 / 25
    assert report["stp_rate_change"] == 8 / 25
    assert report["judged"] == 12
    assert report["draft_decides_judged"] == 8
    assert report["agreement_with_analysts"] == 6 / 8
    assert report["per_reason"]["STANDARD"] == {
        "items": 18,
        "approve": 18,
        "changed": 8,
        "judged": 8,
        "agreed": 6,
    }
    assert report["per_reason"]["HIGH"]["decline"] == 3


def test_a_number_the_engine_cannot_take_is_the_rules_failing_not_the_service() -> None:
    """zen-engine raises a plain Exception for a number beyond 64-bit floats (found by
    Schemathesis as a 500 when running test cases): deciding refers it with RULES_ERROR,
    evaluating raises the RuntimeError every caller handles, the trace is empty."""
    rules = engine.compiled(uw.graph())
    huge = {**uw.tests()[0][1], "bmi": 4.6e95}
    verdict = rules.decide(huge)
    assert (verdict.outcome, verdict.reasons) == ("refer", [engine.RULES_ERROR])
    assert "floating point" in (verdict.error or "")
    with pytest.raises(RuntimeError, match="floating point"):
        rules.evaluate(huge)
    assert rules.trace(huge) == []
    [later] = rules.decide_later([huge]).result()
    assert later.reasons == [engine.RULES_ERROR]


def _reading(expression: str, *, column: str = "") -> dict:
    """A graph whose one table reads `column` (an expression, or no field) and whose one
    expression node computes `expression`."""
    g = Graph()
    g.add("in", "inputNode", "in")
    g.add(
        "t",
        "decisionTableNode",
        "Table",
        {
            "hitPolicy": "first",
            "inputs": [{"id": "i", "name": "Reads", "field": column}],
            "outputs": [{"id": "o", "name": "Seen", "field": "seen"}],
            "rules": [{"_id": "r", "i": "", "o": "true"}],
        },
    )
    g.add("x", "expressionNode", "Sums", expressions([("total", expression)]))
    g.chain("in", "t", "x")
    return g.as_json()


def test_the_field_check_reads_the_fields_an_expression_reads() -> None:
    graph = _reading(
        "sum(map(cart.items, #.unitPrice * #.quantity))", column="len(company.secretaries)"
    )
    assert engine.check(graph, {"cart", "company"}) == []  # closures over # are no fields
    problems = engine.check(graph, {"cart"})
    assert [(p.where, p.message) for p in problems] == [
        (
            "node 'Table', column 'Reads'",
            "reads field 'company.secretaries', which the process input form does not have",
        )
    ]
    [problem] = engine.check(_reading("`${first} ${last}` + upper(title)"), {"first", "last"})
    assert "'title'" in problem.message  # placeholders and function arguments are read
    # A field a node writes is no input: `total` is written by the expression node.
    assert engine.check(_reading("1", column="date(since) > total"), {"since"}) == []
