"""The analyst's and the QA desks in a real browser, on the real server and database: a
referral judged (and confirmed by a second analyst), a review that fails a field and sends
the item back, and a double-entry conflict adjudicated by someone who keyed neither side."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tandem.catalog.service import define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions import underwriting as uw
from tandem.decisions.models import Decision
from tandem.decisions.rulesets import publish_version
from tandem.intake.service import submit_item
from tandem.quality.models import Keying, Review
from tandem.tenancy.service import create_user, issue_token
from tandem.work.models import WorkItem
from tests.conftest import World, _agent
from tests.decisions.conftest import NAME_MASKED, NAMED, UNDERWRITING, naming_process
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot

ABROAD = {**uw.tests()[0][1], "country": "GB"}  # referred, the rules advising approval


def _person(container: Container, world: World, email: str, role: str, *, agent: bool) -> Any:
    """A user in `role`; with an agent profile cleared for the insurer if `agent`."""
    with transaction(container.sessions) as session:
        user = create_user(session, email=email, name=email, role=role, now=container.clock.now())
        return _agent(session, [world.client_id], user_id=user.id) if agent else user.id


def _key(container: Container, agent_id: uuid.UUID, result: dict[str, Any]) -> str:
    """The agent claims the next item and submits `result`; the item's state after."""
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, agent_id)
    assert lease is not None, "nothing to claim"
    with transaction(container.sessions) as session:
        ref = container.dispatcher.submit(session, agent_id, lease.item_id, lease.attempt, result)
    return ref.state.value


def _stored(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


@WIDTHS
def test_a_reviewer_adjudicates_a_double_entry_conflict(
    width: int, browser: Any, server: str, container: Container, world: World, api: Any
) -> None:
    policy = api("ops").put(
        f"/api/v1/processes/{world.process_id}/quality-policy", json={"mode": "double_entry"}
    )
    assert policy.status_code == 200, policy.text
    item = world.submit(container, "conflict-0007.pdf")
    [second_keyer] = world.add_agents(container, 1)
    right = {"applicant_name": "Maria Santos", "coverage_amount": 250000}
    assert _key(container, world.agent_id, right) == "queued"  # waits for its second keying
    wrong = {"applicant_name": "Maria Santos", "coverage_amount": 205000}
    assert _key(container, second_keyer, wrong) == "in_review"  # they disagree
    _person(container, world, "q@provider.example", "qa_reviewer", agent=False)

    page = page_at(browser, server, width)
    sign_in(page, container, "q@provider.example")
    assert page.url.endswith("/console/quality")  # the reviewer's first section
    queue = page.locator("#adjudications")
    assert "Keying" in queue.inner_text()
    assert page.locator("#reviews").count() == 0  # nothing to review, only to adjudicate
    shot(page, "quality-queue")
    page.get_by_role("link", name=f"Adjudicate {item.id}").click()
    page.wait_for_url(f"**/console/quality/adjudications/{item.id}")
    fits(page)

    # Both keyings side by side; the disagreeing field marked in words, not by colour alone.
    assert "1 field differs: Coverage amount" in page.locator("#differences").inner_text()
    amount = page.locator("tr[data-field=coverage_amount]")
    assert amount.get_attribute("class") == "differs"
    cells = amount.locator("td").all_inner_texts()
    assert "250000" in cells[0] and "205000" in cells[1] and "Differs" in cells[2]
    name = page.locator("tr[data-field=applicant_name]")
    assert "Agrees" in name.inner_text() and name.get_attribute("class") is None
    settled = page.get_by_role("spinbutton", name="Coverage amount", exact=True)
    agreed = page.get_by_role("textbox", name="Applicant name", exact=True)
    assert agreed.input_value() == "Maria Santos"  # what both keyed is filled in
    assert settled.input_value() == ""  # what they disagree on is for the adjudicator
    assert "conflict-0007.pdf" in page.locator("#source").inner_text()

    # Left unsettled, the API's refusal is shown at the field.
    page.get_by_role("button", name="Deliver these values").click()
    error = page.locator("#adj-coverage_amount-error")
    error.wait_for()
    assert settled.get_attribute("aria-invalid") == "true"
    # By keyboard: the first keying's value is the right one.
    page.get_by_role("button", name="Use keying 1's value for Coverage amount").focus()
    page.keyboard.press("Enter")
    assert settled.input_value() == "250000"
    shot(page, "adjudication")
    page.get_by_role("button", name="Deliver these values").click()
    page.wait_for_url("**/console/quality?done=adjudicated")
    assert page.get_by_text("Adjudicated: the right values are delivered.").is_visible()
    assert page.locator("#adjudications").count() == 0
    fits(page)

    stored = _stored(container, item.id)
    assert (stored.state, stored.result) == ("delivered", right)
    with transaction(container.sessions) as session:
        keyers = session.scalars(select(Keying.agent_id).where(Keying.work_item_id == item.id))
        assert set(keyers) == {world.agent_id, second_keyer}  # the reviewer keyed neither
        scored = session.execute(
            select(Review.agent_id, Review.defect, Review.reviewer).where(
                Review.work_item_id == item.id, Review.kind == "adjudication"
            )
        ).all()
    assert {(agent, defect) for agent, defect, _ in scored} == {
        (world.agent_id, False),
        (second_keyer, True),
    }


def _underwriting(container: Container, world: World) -> uuid.UUID:
    """The demo insurer's underwriting rules, published: declines need a second analyst."""
    with container.context(world.client_user) as ctx:
        process = define_process(
            ctx.session,
            world.client_id,
            UNDERWRITING,
            now=container.clock.now(),
        )
        publish_version(
            ctx,
            process.id,
            uw.graph(),
            uw.tests(),
            four_eyes={"declines": True},
            reasons=uw.REASONS,
        )
        return process.id


def test_an_analyst_judges_a_referral_and_a_second_one_confirms_it(
    page: Any, browser: Any, server: str, container: Container, world: World
) -> None:
    process_id = _underwriting(container, world)
    with container.context(world.client_user) as ctx:
        referred, _ = submit_item(
            ctx,
            process_id,
            ABROAD,
            at_risk_fraction=0.75,
        )
        assert referred.state == "queued"
        item_id = referred.id
    first = _person(container, world, "u1@provider.example", "analyst", agent=True)
    second = _person(container, world, "u2@provider.example", "analyst", agent=True)

    sign_in(page, container, "u1@provider.example")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Referrals").click()
    page.wait_for_url("**/console/referrals")
    assert page.get_by_text("Nothing waits for your confirmation.").is_visible()
    page.get_by_role("button", name="Next referral").click()
    page.wait_for_url(f"**/console/referrals/{item_id}")

    # The application, masked where personal; why the rules referred it, and how.
    source = page.locator("dl.source").inner_text()
    assert "GB" in source and "Test Applicant" not in source
    # The reason as its catalogue says, with what it means.
    assert page.locator("#reasons").inner_text().startswith("Lives abroad: The applicant lives")
    assert page.locator("#advice").inner_text() == "approve"
    assert page.locator("#trace tbody tr").count() >= 2
    assert "RESIDES_ABROAD" in page.locator("#trace").inner_text()

    # No reason: the API's refusal is shown at the field.
    page.get_by_label("Decline").check()
    page.get_by_role("button", name="Record judgment").click()
    page.locator("#judgment-reason-error").wait_for()
    reason = page.get_by_role("textbox", name="Reason", exact=True)
    assert reason.get_attribute("aria-invalid") == "true"
    reason.fill("sanctioned country of residence")
    page.get_by_label("Notes (optional)").fill("Checked against the sanctions list.")
    shoot(page, "referral-case")
    page.get_by_role("button", name="Record judgment").click()
    page.wait_for_url("**/console/referrals?done=in_review")
    assert page.get_by_text("waits for a second analyst").is_visible()
    # Four eyes: the analyst who judged it is not asked to confirm it.
    assert page.locator(".confirmation").count() == 0
    assert _stored(container, item_id).state == "in_review"

    other = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
    confirming = other.new_page()
    sign_in(confirming, container, "u2@provider.example")
    confirming.goto("/console/referrals")
    card = confirming.locator(f".confirmation[data-item='{item_id}']")
    assert "Decline: sanctioned country of residence" in card.locator(".judgment").inner_text()
    assert "overrides" in card.inner_text()  # the rules advised approval
    shoot(confirming, "referrals")
    card.get_by_role("button", name="Confirm decline").click()
    confirming.wait_for_url("**/console/referrals?done=confirmed")
    assert confirming.locator(".confirmation").count() == 0
    other.close()

    stored = _stored(container, item_id)
    assert stored.state == "delivered"
    assert stored.result == {
        "outcome": "decline",
        "reason": "sanctioned country of residence",
        "notes": "Checked against the sanctions list.",
    }
    with transaction(container.sessions) as session:
        made = session.execute(
            select(Decision.by, Decision.outcome, Decision.override, Decision.actor).where(
                Decision.work_item_id == item_id
            )
        ).all()
    assert {tuple(row) for row in made} == {  # the test's clock stands still: one moment
        ("rules", "refer", False, "system:rules"),
        ("analyst", "decline", True, f"agent:{first}"),
        ("confirmation", "decline", False, f"agent:{second}"),
    }


@WIDTHS
def test_a_reviewer_fails_a_field_with_a_category_and_sends_the_item_back(
    width: int, browser: Any, server: str, container: Container, world: World, api: Any
) -> None:
    policy = api("ops").put(
        f"/api/v1/processes/{world.process_id}/quality-policy", json={"mode": "full_review"}
    )
    assert policy.status_code == 200, policy.text
    item = world.submit(container, "scan-0099.pdf")
    keyed = {"applicant_name": "Maria Santos", "coverage_amount": 25000}  # one zero short
    assert _key(container, world.agent_id, keyed) == "in_review"
    _person(container, world, "q@provider.example", "qa_reviewer", agent=False)

    page = page_at(browser, server, width)
    sign_in(page, container, "q@provider.example")
    page.get_by_role("link", name=f"Review {item.id}").click()
    page.wait_for_url(f"**/console/quality/reviews/{item.id}")
    fits(page)
    assert "scan-0099.pdf" in page.locator("#source").inner_text()
    assert "25000" in page.locator("#result").inner_text()  # side by side with the source

    # Every field passes unless unticked; a failed one asks for its category.
    category = page.get_by_role("combobox", name="Coverage amount Error category")
    assert not category.is_visible()
    page.get_by_role("checkbox", name="Coverage amount Passed").uncheck()
    assert category.is_visible()
    category.select_option("wrong_value")
    assert page.get_by_role("checkbox", name="Applicant name Passed").is_checked()
    # A failure is not delivered as it is: the refusal is shown at the verdict.
    page.get_by_role("button", name="Record review").click()
    page.locator("#verdict-error").wait_for()
    assert "correct" in page.locator("#verdict-error").inner_text()
    page.get_by_label("Send back for rework").check()
    page.get_by_label("Another agent").check()
    page.get_by_label("Reason (shown to the agent on a send-back)").fill(
        "The amount is 250000 on page 2."
    )
    shot(page, "quality-review")
    page.get_by_role("button", name="Record review").click()
    page.wait_for_url("**/console/quality?done=rework")
    assert page.get_by_text("No review waits for you.").is_visible()
    fits(page)

    stored = _stored(container, item.id)
    assert (stored.state, stored.recheck, stored.excluded_agent_id) == (
        "queued",
        True,
        world.agent_id,
    )
    with transaction(container.sessions) as session:
        [found] = session.scalars(select(Review).where(Review.work_item_id == item.id)).all()
        assert (found.verdict, found.rework_to, found.defect, found.kind) == (
            "rework",
            "other",
            True,
            "full",
        )
        assert found.checks == [
            {"name": "applicant_name", "passed": True, "category": None},
            {"name": "coverage_amount", "passed": False, "category": "wrong_value"},
        ]
        assert found.reason == "The amount is 250000 on page 2."


def test_each_desk_opens_only_to_its_people_and_a_referral_page_only_to_referrals(
    container: Container, world: World, api: Any, server: str
) -> None:
    item = world.submit(container, "plain-keying.pdf")
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email="u3@provider.example",
            name="U3",
            role="analyst",
            now=container.clock.now(),
        )
        analyst_id = _agent(session, [world.client_id], user_id=user.id)
        token = issue_token(session, user.id, "test", container.clock.now())
    for path in ("/console/referrals", "/console/quality", f"/console/quality/reviews/{item.id}"):
        refused = api("agent").get(path)  # an agent judges and reviews nothing
        assert refused.status_code == 403 and "lacks the permission" in refused.text
    analyst = httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
    )
    with analyst:
        assert analyst.get(f"/console/referrals/{item.id}").status_code == 404  # not leased
        with transaction(container.sessions) as session:
            lease = container.dispatcher.claim(session, analyst_id)
        assert lease is not None and lease.item_id == item.id
        # The next item of the analyst's queues was a keying item: its page is the workbench.
        moved = analyst.get(f"/console/referrals/{item.id}")
        assert (moved.status_code, moved.headers["location"]) == (303, f"/console/work/{item.id}")
        assert analyst.get("/console/quality").status_code == 403


def test_a_reviewer_corrects_a_failed_field_and_the_correction_is_delivered(
    page: Any, container: Container, world: World, api: Any
) -> None:
    policy = api("ops").put(
        f"/api/v1/processes/{world.process_id}/quality-policy", json={"mode": "full_review"}
    )
    assert policy.status_code == 200, policy.text
    item = world.submit(container, "scan-0100.pdf")
    keyed = {"applicant_name": "Maria Santos", "coverage_amount": 25000}
    assert _key(container, world.agent_id, keyed) == "in_review"
    _person(container, world, "q@provider.example", "qa_reviewer", agent=False)

    sign_in(page, container, "q@provider.example")
    page.goto(f"/console/quality/reviews/{item.id}")
    page.get_by_role("checkbox", name="Coverage amount Passed").uncheck()
    page.get_by_role("combobox", name="Coverage amount Error category").select_option("format")
    corrected = page.get_by_role("spinbutton", name="Coverage amount", exact=True)
    assert not corrected.is_visible()  # only for a correction
    page.get_by_label("Correct it and deliver").check()
    assert corrected.input_value() == "25000"  # the agent's result, to correct
    corrected.fill("500")  # below the form's minimum: refused at the field
    page.get_by_role("button", name="Record review").click()
    page.locator("#corrected-coverage_amount-error").wait_for()
    assert "1000" in page.locator("#corrected-coverage_amount-error").inner_text()
    corrected.fill("250000")
    page.get_by_role("button", name="Record review").click()
    page.wait_for_url("**/console/quality?done=corrected")

    stored = _stored(container, item.id)
    assert (stored.state, stored.result) == (
        "delivered",
        {"applicant_name": "Maria Santos", "coverage_amount": 250000},
    )


def test_the_referral_desk_masks_in_the_trace_what_it_masks_in_the_application(
    page: Any, container: Container, world: World
) -> None:
    """The process lets agents see health data, not names: the rules copied both into their
    trace; the page (as the server wrote it, and as shown) has the BMI and the masked name,
    never the name itself."""
    process_id = naming_process(container, world, visible=["health"])
    with container.context(world.client_user) as ctx:
        referred, _ = submit_item(
            ctx,
            process_id,
            NAMED,
            at_risk_fraction=0.75,
        )
        assert referred.state == "queued"
        item_id = referred.id
    _person(container, world, "u1@provider.example", "analyst", agent=True)

    sign_in(page, container, "u1@provider.example")
    page.goto("/console/referrals")
    page.get_by_role("button", name="Next referral").click()
    page.wait_for_url(f"**/console/referrals/{item_id}")
    source = page.locator("dl.source").inner_text()
    assert NAME_MASKED in source and "36.5" in source
    trace = page.locator("#trace").inner_text()
    assert f'applicant = "{NAME_MASKED}"' in trace and "body_mass = 36.5" in trace
    assert f'note = "f••• {NAME_MASKED}"' in trace
    shoot(page, "referral-masked-trace")
    written = page.request.get(f"/console/referrals/{item_id}")  # the same session
    assert written.status == 200 and "How the rules got there" in written.text()
    for html in (written.text(), page.content()):
        assert "maria" not in html.lower() and "santos" not in html.lower()
