"""The quality section's gold items and agents' standing in a real browser, on the real server
and database, at 1280 and 390 px (issue 16): an ops manager adds a gold item typed in the
process's forms (an invalid value shown at its field first), real copies are slipped into
the queue and scored as the agent submits them, the page shows each copy right or wrong,
the gold item is retired, and one is made from a delivered item with its document; a team
lead follows agents' CSP-1 standing, one cleared into sampling by real reviews and one sent
back to screening by an error; a client's people get neither page. Each page passes axe."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.quality import reviews
from tandem.quality.models import GoldItem
from tandem.tenancy.principal import Principal
from tandem.work.lifecycle import State
from tandem.workforce.models import Agent
from tests.conftest import RESULT, World
from tests.documents.samples import pdf
from tests.documents.test_service import hand_over
from tests.quality.conftest import seed, set_policy, work
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, fits, page_at
from tests.web.test_accessibility import _problems
from tests.web.test_quality_pages import _person

WRONG = {**RESULT, "coverage_amount": 205000}


def _shot(page: Any, name: str, width: int) -> None:
    fits(page)
    shoot(page, name if width == 1280 else f"{name}-{width}")


def _copies_worked(container: Container, world: World, clock: ManualClock) -> None:
    """Two real items arrive and the gold job slips a copy in (gold rate 0.5); the agent works
    all three, the copy wrong the first time and right the second."""
    seed(container)  # starts counting
    for result in (WRONG, RESULT):
        clock.advance(timedelta(minutes=5))
        world.submit(container, "real-a.pdf")
        world.submit(container, "real-b.pdf")
        assert seed(container) == 1
        states = [work(container, world.agent_id, result).state for _ in range(3)]
        assert states.count(State.CANCELLED) == 1  # the copy: scored and retired


@WIDTHS
def test_an_ops_manager_adds_gold_items_and_follows_how_agents_score_on_them(
    browser: Any,
    server: str,
    container: Container,
    world: World,
    clock: ManualClock,
    api: Any,
    width: int,
) -> None:
    set_policy(container, world.process_id, "none", gold_rate=0.5)
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")  # an ops manager: QUALITY_MANAGE
    page.goto("/console/qa")
    assert page.locator("nav.tabs a").all_inner_texts() == [
        "Report",
        "Alerts",
        "Agents' standing",
        "Policies",
        "Gold items",
    ]
    page.get_by_role("link", name="Gold items").click()
    page.wait_for_url("**/console/qa/gold")
    assert page.get_by_label("Process").locator("option:checked").inner_text() == "Insurer · Keying"
    assert "50 gold items per 100 real items" in page.locator("#gold-rate").inner_text()
    assert "No delivered item" in page.locator("#no-sources").inner_text()

    typed = page.locator("#gold-typed")
    typed.get_by_label("Document ref").fill("gold-standard.pdf")
    typed.get_by_label("Applicant name").fill("Maria Santos")  # RESULT's
    typed.get_by_label("Coverage amount").fill("10")  # under the form's minimum of 1000
    typed.get_by_role("button", name="Add the gold item").click()
    error = page.locator("#gold-out-coverage_amount-error")
    error.wait_for()
    assert typed.get_by_label("Coverage amount").get_attribute("aria-invalid") == "true"
    fits(page)
    typed.get_by_label("Coverage amount").fill("250000")
    typed.get_by_role("button", name="Add the gold item").click()
    page.wait_for_url("**done=added")
    assert "Added" in page.locator("#gold-done").inner_text()
    card = page.locator("article.gold")
    assert card.count() == 1
    assert "by O" in card.locator("h3").inner_text() and "In use" in card.inner_text()
    assert "gold-standard.pdf" in card.inner_text() and "No copy made yet" in card.inner_text()

    _copies_worked(container, world, clock)
    page.reload()
    counts = card.locator(".gold-counts").inner_text()
    assert "2 copies" in counts and "1 right" in counts and "1 wrong" in counts, counts
    rows = card.locator(".gold-scores tbody tr")
    assert rows.count() == 2
    assert "Test Agent" in rows.nth(0).inner_text() and "Right" in rows.nth(0).inner_text()
    assert "Wrong: Coverage amount" in rows.nth(1).inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows.nth(0).inner_text())
    assert _problems(page) == []
    _shot(page, "qa-gold", width)

    card.get_by_role("button", name="Retire").click()
    page.wait_for_url("**done=retired")
    assert "Retired" in page.locator("article.gold h3").inner_text()
    with transaction(container.sessions) as session:
        assert session.scalars(select(GoldItem.active)).all() == [False]

    # A delivered item with its document: the gold item is made from it, and now the
    # process's items come with documents, nothing can be typed any more.
    scanned = hand_over(api, world, pdf(1), name="scan-77778888.pdf").json()["id"]
    clock.advance(timedelta(minutes=1))
    assert work(container, world.agent_id).state is State.DELIVERED
    page.reload()
    choice = page.get_by_label("Delivered item")
    assert choice.locator("option").count() == 1
    page.get_by_role("button", name="Add from this item").click()
    page.wait_for_url("**done=added")
    assert page.locator("article.gold").count() == 2
    assert "scan-77778888.pdf" in page.locator("article.gold").first.inner_text()
    assert "told apart" in page.locator("#typed-refused").inner_text()
    with transaction(container.sessions) as session:
        assert str(session.scalars(select(GoldItem.id).where(GoldItem.active)).one()) == scanned
    assert _problems(page) == []
    _shot(page, "qa-gold-from-item", width)


def _reviewed(
    container: Container, world: World, reviewer: Principal, agent: Any, wrong: bool = False
) -> None:
    world.submit(container)
    ref = work(container, agent, WRONG if wrong else RESULT)
    assert ref.state is State.IN_REVIEW
    with container.context(reviewer) as ctx:
        reviews.review(
            ctx,
            ref.id,
            failures=[reviews.Failure("coverage_amount", "wrong_value")] if wrong else [],
            verdict="correct" if wrong else "deliver",
            corrected=RESULT if wrong else None,
            lease=container.dispatcher.lease,
        )


@WIDTHS
def test_a_team_lead_follows_agents_standing_and_a_client_sees_none_of_it(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    set_policy(container, world.process_id, "sampling", aoql=0.2, min_accuracy=0.9)
    reviewer = _person(container, "quinn@provider.example", "qa_reviewer")
    (second,) = world.add_agents(container, 1)
    with transaction(container.sessions) as session:
        session.execute(update(Agent).where(Agent.id == second).values(name="Second Agent"))
    for _ in range(14):  # the clearance of a new agent's plan at a 20 % AOQL
        _reviewed(container, world, reviewer, world.agent_id)
    for wrong in (False, True, False):
        _reviewed(container, world, reviewer, second, wrong)
    _person(container, "lead@provider.example", "team_lead")

    page = page_at(browser, server, width)
    sign_in(page, container, "lead@provider.example")
    page.goto("/console/qa")
    assert page.locator("nav.tabs a").all_inner_texts() == ["Report", "Alerts", "Agents' standing"]
    page.get_by_role("link", name="Agents' standing").click()
    page.wait_for_url("**/console/qa/standing")
    assert "14 in a row pass" in page.locator("#standing-plan").inner_text()
    assert "90 %" in page.locator("#standing-plan").inner_text()
    rows = page.locator("#standing tbody tr")
    assert rows.count() == 2
    screening, sampling = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "Second Agent" in screening and "Screening" in screening
    assert re.search(r"1 of \d+ passed in a row", screening), screening
    assert "66.7 %" in screening  # 2 of its 3 reviews without an error
    assert "Test Agent" in sampling and "Sampling" in sampling
    assert "About 1 item in 100 reviewed" in sampling and "100.0 %" in sampling
    assert _problems(page) == []
    _shot(page, "qa-standing", width)
    rows.nth(1).get_by_role("link", name="Test Agent").click()
    page.wait_for_url("**by=agent**")
    assert "Showing Test Agent only" in page.locator("#agent-only").inner_text()
    assert page.goto("/console/qa/gold").status == 403  # a team lead manages no gold items

    client = page_at(browser, server, width)
    sign_in(client, container, "c@insurer.example")
    for refused in ("/console/qa/standing", "/console/qa/gold"):
        answer = client.goto(refused)
        assert answer is not None and answer.status == 403, refused
    client.goto("/console/qa")
    assert client.locator("nav.tabs").count() == 0
