"""The quality pages in a real browser, on the real server and database: a quality manager
changes a process's policy (an invalid value shown at its field, then fixed); the report's
charts and tables for the provider's staff and, scoped to its own processes, for a client;
an agent's alert followed to their accuracy and acknowledged; and the people without the
permission, who get no link and a refusal. At 1280 and at 390 px."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.catalog.models import QA_MODES, Process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.quality import reviews
from tandem.quality.models import QualityAlert
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user
from tandem.web.quality import MODES
from tests.conftest import RESULT, World
from tests.quality.conftest import set_policy, work
from tests.web.conftest import shoot, sign_in

WIDTHS = (1280, 390)
WRONG = {**RESULT, "coverage_amount": 205000}


def _shoot(page: Any, name: str, width: int) -> None:
    shoot(page, f"quality-{name}-{width}")


def _person(container: Container, email: str, role: str, client_id: int | None = None) -> Any:
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email=email,
            name=email.split("@")[0].title(),
            role=role,
            now=container.clock.now(),
            client_id=client_id,
        )
        return Principal(user.id, role, client_id, None)


def _history(container: Container, world: World, clock: ManualClock) -> None:
    """Three days of the insurer's keying under full review: half of the agent's items
    wrong, corrected by a reviewer; the agent falls below the 90 % threshold (one alert)."""
    set_policy(container, world.process_id, "full_review", min_accuracy=0.9)
    reviewer = _person(container, "quinn@provider.example", "qa_reviewer")
    for day in range(3):
        for n in range(4):
            world.submit(container, f"day{day}-{n}.pdf")
            wrong = n % 2 == 1
            ref = work(container, world.agent_id, WRONG if wrong else RESULT)
            with container.context(reviewer) as ctx:
                reviews.review(
                    ctx,
                    ref.id,
                    failures=[reviews.Failure("coverage_amount", "wrong_value")] if wrong else [],
                    verdict="correct" if wrong else "deliver",
                    corrected=RESULT if wrong else None,
                    lease=container.dispatcher.lease,
                )
        clock.advance(timedelta(days=1))


def _context(browser: Any, server: str, width: int) -> Any:
    return browser.new_context(base_url=server, viewport={"width": width, "height": 900})


# The elements that stick out on the right, to name in a failure.
STICKING_OUT = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 6).map((e) => `${e.tagName}#${e.id}.${e.className}`)"""


def _fits(page: Any) -> None:
    """Nothing of the page scrolls sideways (a table scrolls in its own box)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width}px wide: {page.evaluate(STICKING_OUT)}"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_quality_manager_changes_a_policy_an_invalid_value_shown_at_its_field(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    page = _context(browser, server, width).new_page()
    sign_in(page, container, "o@provider.example")  # an ops manager: QUALITY_MANAGE
    page.get_by_role("link", name="Quality reports").click()
    page.wait_for_url("**/console/qa")
    page.get_by_role("link", name="Policies").click()
    page.wait_for_url("**/console/qa/policies")
    row = page.locator("#policies tbody tr", has_text="Insurer")
    assert "No quality control" in row.inner_text() and "1 %" in row.inner_text()
    _fits(page)
    _shoot(page, "policies", width)
    page.get_by_role("link", name="Change the policy of Keying (Insurer)").click()
    page.wait_for_url(f"**/console/qa/policies/{world.process_id}")

    aoql = page.get_by_label("Errors delivered, at most (AOQL, %)")
    assert aoql.input_value() == "1"
    page.get_by_label("Sampling (CSP-1)").check()
    aoql.fill("25")  # over the API's 20 %
    page.get_by_role("button", name="Save the policy").click()
    error = page.locator("#policy-aoql-error")
    error.wait_for()
    assert error.inner_text() == "A percentage from 0.01 to 20."
    assert aoql.get_attribute("aria-invalid") == "true"
    assert "policy-aoql-error" in (aoql.get_attribute("aria-describedby") or "")
    assert page.evaluate("document.activeElement.id") == "policy-aoql"
    _fits(page)
    _shoot(page, "policy-invalid", width)
    with transaction(container.sessions) as session:
        process = session.scalars(select(Process).where(Process.id == world.process_id)).one()
        assert (process.qa_mode, process.qa_aoql) == ("none", 0.01)  # nothing saved

    aoql.fill("1.5")  # changed: the stale error goes at once
    assert error.count() == 0 and aoql.get_attribute("aria-invalid") is None
    page.get_by_label("Alert when an agent's accuracy is under (%)").fill("92")
    page.get_by_role("button", name="Save the policy").click()
    page.wait_for_url("**?done=saved")
    assert "Saved" in page.locator("#policy-saved").inner_text()
    assert page.get_by_label("Sampling (CSP-1)").is_checked()
    assert "in a row pass" in page.locator("#plan").inner_text()
    with transaction(container.sessions) as session:
        process = session.scalars(select(Process).where(Process.id == world.process_id)).one()
        assert (process.qa_mode, process.qa_aoql, process.qa_min_accuracy) == (
            "sampling",
            0.015,
            0.92,
        )
        audited = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "quality_policy.set")
        ).all()
        assert [record.subject for record in audited] == [f"process:{world.process_id}"]
    _fits(page)
    _shoot(page, "policy-saved", width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_shows_its_charts_and_tables_scoped_to_who_reads_it(
    browser: Any, server: str, container: Container, world: World, clock: ManualClock, width: int
) -> None:
    _history(container, world, clock)
    page = _context(browser, server, width).new_page()
    sign_in(page, container, "o@provider.example")
    page.goto("/console/qa")
    outgoing = page.locator("#outgoing tbody tr", has_text="Insurer · Keying")
    cells = outgoing.inner_text()
    assert "Full review" in cells and "12 of 12" in cells and "100.0 %" in cells
    assert page.locator("#outgoing tbody tr", has_text="Retailer · Keying").count() == 1
    charts = page.locator(".qa-chart svg:visible")
    assert charts.count() == 2  # outgoing quality, accuracy over time: one drawing each
    labels = [charts.nth(n).get_attribute("aria-label") for n in range(2)]
    assert labels == [
        "Outgoing errors against the promise (% of delivered)",
        "Items without an error per process and day (%)",
    ]
    accuracy = page.locator("#accuracy tbody tr")
    assert accuracy.count() == 3  # three days
    assert "50.0 %" in accuracy.first.inner_text()  # 2 of 4 items without an error
    _fits(page)
    _shoot(page, "report", width)

    page.get_by_label("Accuracy per").select_option("field")
    page.get_by_label("Over time, by").select_option("week")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**by=field**")
    rows = page.locator("#accuracy tbody tr")
    texts = rows.all_inner_texts()
    assert any("Insurer · Keying · Coverage amount" in text and "50.0 %" in text for text in texts)
    assert any("Applicant name" in text and "100.0 %" in text for text in texts)
    assert page.locator("#accuracy-chart svg:visible").get_attribute("aria-label") == (
        "Fields right per field and week (%)"
    )

    page.goto("/console/qa?from=2026-02-30&by=nonsense")  # what cannot be read, at its field
    assert page.locator("#ask-from-error").inner_text() == "a date as 2026-12-31"
    assert page.get_by_label("From (UTC)").get_attribute("aria-invalid") == "true"
    assert page.locator("#ask-by-error").inner_text() == "not one of the choices"
    page.get_by_label("From (UTC)").fill("2026-03-01")
    page.get_by_label("Accuracy per").select_option("process")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**from=2026-03-01**")
    assert page.locator(".field-error").count() == 0  # asked again: the old errors are gone

    client = _context(browser, server, width).new_page()
    sign_in(client, container, "c@insurer.example")
    client.get_by_role("link", name="Quality reports").click()
    client.wait_for_url("**/console/qa")
    assert client.locator("nav.tabs").count() == 0  # the report only: no alerts, no policies
    options = client.get_by_label("Accuracy per").locator("option").all_inner_texts()
    assert options == ["Process", "Field"]  # neither per client nor per agent
    table = client.locator("#outgoing tbody").inner_text()
    assert "Keying" in table and "Retailer" not in table and "Insurer" not in table
    assert client.locator("#accuracy tbody tr").count() == 3
    _fits(client)
    _shoot(client, "report-client", width)
    for refused in ("/console/qa/alerts", "/console/qa/policies"):
        answer = client.goto(refused)
        assert answer is not None and answer.status == 403
    assert client.get_by_role("heading", level=1).inner_text() == "Forbidden"


@pytest.mark.parametrize("width", WIDTHS)
def test_an_alert_leads_to_the_agents_accuracy_and_is_acknowledged(
    browser: Any, server: str, container: Container, world: World, clock: ManualClock, width: int
) -> None:
    _history(container, world, clock)
    _person(container, "lead@provider.example", "team_lead")
    page = _context(browser, server, width).new_page()
    sign_in(page, container, "lead@provider.example")
    page.goto("/console/qa")
    tabs = page.locator("nav.tabs a").all_inner_texts()
    assert tabs == ["Report", "Alerts", "Agents' standing"]  # a team lead changes no policy
    page.get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/console/qa/alerts")
    row = page.locator("#open-alerts tbody tr")
    assert row.count() == 1
    text = row.inner_text()
    assert "Test Agent" in text and "Insurer · Keying" in text and "90 %" in text
    _fits(page)
    _shoot(page, "alerts", width)

    row.get_by_role("link", name="Test Agent's accuracy").click()
    page.wait_for_url("**by=agent**")
    assert "Showing Test Agent only" in page.locator("#agent-only").inner_text()
    lines = page.locator("#accuracy tbody tr")
    assert lines.count() == 3 and "Test Agent" in lines.first.inner_text()
    chart = page.locator("#accuracy-chart svg:visible")
    assert chart.get_attribute("aria-label") == "Items without an error per agent and day (%)"
    legend = page.locator("#accuracy-chart .legend").all_inner_texts()
    assert legend == ["Test Agent\nAlert threshold (90 %)"]
    _fits(page)
    _shoot(page, "agent-report", width)

    page.go_back()
    page.wait_for_url("**/console/qa/alerts")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**?done=acknowledged")
    assert "Acknowledged" in page.get_by_role("status").first.inner_text()
    assert page.locator("#open-alerts").count() == 0
    done = page.locator("#acknowledged-alerts tbody tr").inner_text()
    assert "Test Agent" in done and "Lead" in done
    with transaction(container.sessions) as session:
        alert = session.scalars(select(QualityAlert)).one()
        assert alert.acknowledged_at is not None and alert.acknowledged_by is not None
    _fits(page)
    _shoot(page, "alerts-acknowledged", width)
    answer = page.goto("/console/qa/policies")
    assert answer is not None and answer.status == 403


def test_people_without_the_permission_get_no_link_and_a_refusal(
    browser: Any, server: str, container: Container, world: World
) -> None:
    for email in ("a@provider.example", "s@provider.example"):  # an agent, a security officer
        page = _context(browser, server, 1280).new_page()
        sign_in(page, container, email)
        assert page.get_by_role("link", name="Quality reports").count() == 0
        for url in ("/console/qa", "/console/qa/alerts", "/console/qa/policies"):
            answer = page.goto(url)
            assert answer is not None and answer.status == 403, url
        page.goto(f"/console/qa/policies/{world.process_id}")
        assert page.get_by_role("heading", level=1).inner_text() == "Forbidden"
    # A client's people see none of another client's processes, not even its policy page.
    other = _person(container, "viewer@retailer.example", "client_admin", world.other_client_id)
    assert other.client_id == world.other_client_id
    page = _context(browser, server, 390).new_page()
    sign_in(page, container, "viewer@retailer.example")
    answer = page.goto(f"/console/qa/policies/{world.process_id}")
    assert answer is not None and answer.status == 403  # no QUALITY_MANAGE at all
    answer = page.goto(f"/console/qa?process={world.process_id}")
    assert answer is not None and answer.status == 200
    assert page.locator("#ask-process-error").inner_text() == "not one of the choices"
    _shoot(page, "refused-process", 390)
    # A quality manager asking for a process that is not there: the page says so.
    page = _context(browser, server, 1280).new_page()
    sign_in(page, container, "o@provider.example")
    missing = page.goto(f"/console/qa/policies/{uuid.uuid4()}")
    assert missing is not None and missing.status == 404


def test_every_qa_mode_reads_in_words() -> None:
    assert tuple(MODES) == QA_MODES
