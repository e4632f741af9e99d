"""A client's rules run under a budget: past it an input is referred (RULES_BUDGET), a test
case past it keeps a version from publishing, and one client's slow rules hold up neither its
other inputs nor another client's intake. Graphs too big to check cheaply are refused."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tandem.catalog.service import define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import Conflict
from tandem.decisions import engine, jdm, rulesets
from tandem.decisions import underwriting as uw
from tandem.decisions.jdm import Column, Graph, Rule, expressions, table
from tandem.decisions.models import Decision
from tandem.intake.service import ingest_file, submit_item
from tests.conftest import World
from tests.decisions.conftest import BASE, UNDERWRITING
from tests.decisions.test_service import _bulk_csv

BUDGET = engine.Budget(seconds=0.3, memory_mb=1024, workers=2)
# Rules whose work grows with the square of the income (in thousands): instant for a
# salary, minutes for a fortune.
SQUARED = "len(map([0..annual_income / 1000], len(map([0..annual_income / 1000], # + 1))))"
FORTUNE = {**BASE, "annual_income": 50_000_000}
# Rules that build a list as long as the income: a few GB for a fortune.
HOARDING = "len(map([0..annual_income], string(#) + 'abcdefghijklmnopqrstuvwxyz'))"


@pytest.fixture(autouse=True)
def small_budget() -> Iterator[None]:
    before = engine.budget()
    engine.configure(BUDGET)
    yield
    engine.configure(before)


def _graph(work: str) -> dict[str, Any]:
    g = Graph()
    g.add("in", "inputNode", "in")
    g.add(
        "x",
        "expressionNode",
        "Work",
        expressions([("outcome", f"{work} >= 0 ? 'approve' : 'decline'"), ("reasons", "[]")]),
    )
    g.add("out", "outputNode", "out")
    g.chain("in", "x", "out")
    return g.as_json()


def test_an_input_past_the_budget_is_referred_and_the_others_are_decided() -> None:
    rules = engine.CompiledRules(_graph(SQUARED))  # its own: no pause left by another test
    start = time.perf_counter()
    verdicts = rules.decide_many([BASE, FORTUNE, BASE])
    elapsed = time.perf_counter() - start
    assert [v.outcome for v in verdicts] == ["approve", "refer", "approve"]
    assert verdicts[1].reasons == [engine.RULES_BUDGET]
    assert "budget of 0.3 s" in (verdicts[1].error or "")
    # The fortune alone runs for minutes: the batch's deadline, then its own, then the rest.
    assert elapsed < 10, elapsed
    assert rules.trace(FORTUNE) == []  # the referral's reason says why, not a failure


def test_an_input_past_the_memory_budget_is_referred_and_the_workers_go_on() -> None:
    rules = engine.CompiledRules(_graph(HOARDING))
    verdict = rules.decide({**BASE, "annual_income": 100_000_000})
    assert verdict.reasons == [engine.RULES_BUDGET]
    assert "1024 MB of memory" in (verdict.error or "")
    assert rules.decide(BASE).outcome == "approve"  # a new worker took the dead one's place


def test_rules_past_the_budget_on_inputs_in_a_row_are_paused() -> None:
    rules = engine.CompiledRules(_graph(SQUARED))
    verdicts = rules.decide_many([FORTUNE] * (engine.PAUSE_AFTER + 2))
    assert all(v.reasons == [engine.RULES_BUDGET] for v in verdicts)
    errors = [v.error or "" for v in verdicts]
    assert all("budget of 0.3 s" in e for e in errors[: engine.PAUSE_AFTER])
    assert all("paused" in e for e in errors[engine.PAUSE_AFTER :])
    # Paused, even inputs the rules would decide at once are referred without running, and
    # so are whole batches: nothing more of the workers' time goes to these rules.
    assert "paused" in (rules.decide(BASE).error or "")
    assert [v.reasons for v in rules.decide_many([BASE, BASE])] == [[engine.RULES_BUDGET]] * 2
    assert engine.CompiledRules(_graph(SQUARED)).decide(BASE).outcome == "approve"


def test_a_failing_rule_does_not_count_toward_the_pause() -> None:
    rules = engine.CompiledRules(_graph("a.b.c"))
    verdicts = rules.decide_many([{"a": 5}] * (engine.PAUSE_AFTER + 1))
    assert all(v.reasons == [engine.RULES_ERROR] for v in verdicts)


def _table_graph(rules: int) -> dict[str, Any]:
    g = Graph()
    g.add("in", "inputNode", "in")
    g.add(
        "t",
        "decisionTableNode",
        "Bands",
        table(
            [Column("Age", "age")],
            [Column("Outcome", "outcome")],
            [Rule([f"== {n}"], ['"approve"']) for n in range(rules)],
        ),
    )
    g.add("out", "outputNode", "out")
    g.chain("in", "t", "out")
    return g.as_json()


def test_graphs_beyond_the_upload_bounds_are_refused_naming_what_is_too_big() -> None:
    fields = set(uw.INPUT_SCHEMA["properties"])
    assert engine.check(_table_graph(jdm.MAX_TABLE_RULES), fields) == []
    [problem] = engine.check(_table_graph(jdm.MAX_TABLE_RULES + 1), fields)
    assert problem.where == "node 'Bands'"
    assert f"{jdm.MAX_TABLE_RULES + 1:,} rules" in problem.message

    long = " + ".join(["age"] * (jdm.MAX_EXPRESSION_CHARS // 6 + 1))
    [problem] = engine.check(_graph(long), fields)
    assert problem.where == "node 'Work', expression 'outcome'"
    assert "characters long" in problem.message

    crowded = _graph("age")
    crowded["nodes"] += [
        {"id": f"n{n}", "type": "expressionNode", "content": {"expressions": []}}
        for n in range(jdm.MAX_NODES)
    ]
    [problem] = engine.check(crowded, fields)
    assert problem.where == "graph" and "at most 500" in problem.message


def _published(container: Container, world: World, process_id: uuid.UUID, work: str) -> None:
    with container.context(world.client_user) as ctx:
        rulesets.publish_version(
            ctx, process_id, _graph(work), [("salary", BASE, {"outcome": "approve"})]
        )


def test_a_test_case_past_the_budget_keeps_the_version_from_publishing(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    with container.context(world.client_user) as ctx:
        draft = rulesets.create_version(ctx, process_id, _graph(SQUARED))
        rulesets.add_test(ctx, draft.id, name="salary", data=BASE, expected={"outcome": "approve"})
        rulesets.add_test(
            ctx, draft.id, name="fortune", data=FORTUNE, expected={"outcome": "approve"}
        )
        draft_id = draft.id
    with container.context(world.client_user) as ctx, pytest.raises(Conflict) as refused:
        rulesets.publish(ctx, draft_id)
    assert "fails 1 of 2 test case(s): fortune" in refused.value.detail
    [failure] = refused.value.extra["failures"]
    assert "budget of 0.3 s" in failure["actual"]["error"]
    with container.context(world.client_user) as ctx:
        assert rulesets.get_ruleset(ctx, draft_id).status == "draft"


def test_an_arrival_past_the_budget_is_referred_for_an_analyst(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    _published(container, world, process_id, SQUARED)
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(ctx, process_id, FORTUNE, at_risk_fraction=0.75)
        assert item.state == "queued"
        decision = ctx.session.scalar(select(Decision).where(Decision.work_item_id == item.id))
    assert decision is not None and decision.reasons == [engine.RULES_BUDGET]


def test_one_clients_slow_rules_hold_up_no_other_clients_intake(
    container: Container, world: World, process_id: uuid.UUID
) -> None:
    """While a file whose rules run past the budget on every row is taken in for one client,
    another client's arrival is decided; the file's rows are all referred, none lost. (On
    SQLite the other arrival waits for the file all the same: a file is one transaction, and
    SQLite has one writer.)"""
    _published(container, world, process_id, SQUARED)
    with transaction(container.sessions) as session:
        other = define_process(
            session, world.other_client_id, UNDERWRITING, now=container.clock.now()
        ).id
    with container.context(world.other_client_user) as ctx:
        rulesets.publish_version(ctx, other, _graph("age"), [("any", BASE, {"outcome": "approve"})])

    reports: list[Any] = []
    slow = threading.Thread(
        target=lambda: reports.append(
            ingest_file(
                container.sessions,
                world.client_user,
                process_id,
                _bulk_csv([FORTUNE] * 40),
                filename="fortunes.csv",
                clock=container.clock,
                at_risk_fraction=0.75,
                keyring=container.keyring,
            )
        )
    )
    slow.start()
    time.sleep(BUDGET.seconds)  # the file's first batch is with the workers
    with container.context(world.other_client_user) as ctx:
        item, _ = submit_item(ctx, other, BASE, at_risk_fraction=0.75)
    assert item.state == "delivered"
    if container.engine.dialect.name == "postgresql":
        assert slow.is_alive(), "the other client's item waited for the slow file"
    slow.join(timeout=60)
    [report] = reports
    assert report.rows_accepted == 40
    assert report.decisions == {"refer": 40}
