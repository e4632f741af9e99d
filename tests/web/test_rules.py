"""The rules pages in a real browser, on the real server and database: a client's admin
uploads versions of a decision process's rules (the API's errors shown where they belong),
runs a draft's test cases, has its publishing refused with the failing ones shown, backtests
it on past items, publishes a version that passes, and reads the measures; reasons read as
their catalogue's labels, here and on the item's page. At 1280 px and at 390 px."""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
from typing import Any

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from tandem.catalog.service import define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions import underwriting as uw
from tandem.decisions.models import Ruleset
from tandem.decisions.rulesets import publish_version
from tandem.intake.service import submit_item
from tests.conftest import World
from tests.decisions.conftest import ABROAD, BASE, HIGH_RISK, UNDERWRITING
from tests.web.conftest import shoot, sign_in

WIDTHS = (1280, 390)


def _decided(container: Container, world: World) -> tuple[uuid.UUID, uuid.UUID]:
    """The underwriting process, version 1 published with its reasons, and three items the
    rules decided (an approval, a referral, a decline): the process and the referral."""
    with container.context(world.client_user) as ctx:
        process = define_process(
            ctx.session, world.client_id, UNDERWRITING, now=container.clock.now()
        )
        publish_version(
            ctx,
            process.id,
            uw.graph(),
            uw.tests(),
            four_eyes={"declines": True},
            note="Guidelines 2026",
            reasons=uw.REASONS,
        )
        referred = None
        for data in (BASE, ABROAD, HIGH_RISK):
            item, _ = submit_item(ctx, process.id, data, at_risk_fraction=0.75)
            if data is ABROAD:
                referred = item.id
        assert referred is not None
        return process.id, referred


def _accepting_abroad() -> dict[str, Any]:
    """The demo's rules, but applicants abroad approved under a reason of their own."""
    graph = copy.deepcopy(uw.graph())
    outcome = next(node for node in graph["nodes"] if node["id"] == "outcome")
    for rule in outcome["content"]["rules"]:
        if "RESIDES_ABROAD" in rule["out1"]:
            rule["out0"], rule["out1"] = "'approve'", "['ABROAD_ACCEPTED']"
    return graph


def _file(name: str, content: Any) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content)
    return {"name": name, "mimeType": "application/json", "buffer": text.encode()}


def _fits(page: Any) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} scrolls sideways: {width}px"


def _upload(page: Any, file: dict[str, Any]) -> None:
    page.locator("#rules-file").set_input_files(files=[file])
    page.get_by_role("button", name="Upload as a new draft").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_client_uploads_tests_backtests_and_publishes_rules(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    process_id, referred = _decided(container, world)
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, container, "c@insurer.example")
    shot = f"rules-{width}"

    page.goto("/console/rules")
    page.get_by_role("link", name="Underwriting", exact=True).click()
    page.wait_for_url(f"**/console/rules/{process_id}")
    first = page.locator(".version[data-version='1']")
    assert "Published" in first.inner_text() and "Guidelines 2026" in first.inner_text()
    assert "12 described" in first.inner_text()
    assert "A second analyst confirms every decline." in first.inner_text()
    _fits(page)
    shoot(page, f"{shot}-versions")

    # A graph reading a field the process does not have: the problem named where it is.
    wrong = copy.deepcopy(uw.graph())
    wrong["nodes"][1]["content"]["inputs"][2]["field"] = "body_mass"
    _upload(page, _file("wrong.json", wrong))
    problems = page.locator("#rules-upload-errors")
    problems.wait_for()
    assert "node 'Data checks', column 'BMI'" in problems.inner_text()
    assert "body_mass" in problems.inner_text()
    assert page.locator("#rules-file").get_attribute("aria-invalid") == "true"
    _fits(page)
    shoot(page, f"{shot}-upload-refused")
    # Not JSON at all: said at the file.
    _upload(page, _file("notes.json", "these are not rules"))
    page.locator("#rules-file-error").wait_for()
    assert "Neither JSON nor a spreadsheet" in page.locator("#rules-file-error").inner_text()
    # An amount without its limit: said at the four-eyes rule.
    page.get_by_label("and amounts in").select_option("coverage_amount")
    _upload(page, _file("v2.json", _accepting_abroad()))
    error = page.locator("#rules-four-eyes-error")
    error.wait_for()
    assert "amount_field and above go together" in error.inner_text()
    assert page.get_by_label("above").get_attribute("aria-invalid") == "true"

    # The rules approving applicants abroad: a draft, with version 1's test cases and reasons.
    page.get_by_label("and amounts in").select_option("")
    page.get_by_label("Note").fill("Applicants abroad approved")
    _upload(page, _file("v2.json", _accepting_abroad()))
    page.wait_for_url(re.compile(r"/console/rules/versions/[0-9a-f-]+\?done=uploaded"))
    assert "Uploaded as a new draft" in page.locator("#rules-notice").inner_text()
    draft = uuid.UUID(page.url.split("/versions/")[1].split("?")[0])
    # Its copied test cases ran as the page opened: the one of applicants abroad fails,
    # expected and given shown as labels.
    failing = page.locator(".case.failed")
    assert failing.count() == 1
    assert "abroad refers, advising approval" in failing.inner_text()
    row = failing.locator("tr.differs")
    assert "Lives abroad" in row.inner_text() and "Abroad accepted" in row.inner_text()
    assert page.locator(".case.passed").count() == len(uw.tests()) - 1
    assert "Lives abroad" in page.locator("#rules-reasons").inner_text()

    # A test case added from the page, then the tests run again.
    page.get_by_label("Name").fill("a smoker at 50 is approved")
    page.get_by_label("Input (JSON)").fill(json.dumps({**BASE, "age": 50, "smoker": True}))
    expected = '{"outcome": "approve", "reasons": ["STANDARD_RISK"]}'
    page.get_by_label("Expected (JSON)").fill(expected[:-1])
    page.get_by_role("button", name="Add the test case").click()
    page.locator("#test-expected-error").wait_for()  # not JSON: said at the field
    page.get_by_label("Expected (JSON)").fill(
        '{"outcome": "approve", "reasons": ["STANDARD_RISK"]}'
    )
    page.get_by_role("button", name="Add the test case").click()
    page.locator(".case[data-case='a smoker at 50 is approved']").wait_for()
    assert "passed" in page.locator(".case[data-case='a smoker at 50 is approved']").get_attribute(
        "class"
    )
    page.get_by_role("button", name="Run the tests").click()
    status = page.locator("#rules-tests-status")
    expect(status).to_have_text(re.compile(r"^Ran "))
    assert "1 fail" in status.inner_text()

    # Publishing asks first, then is refused while a test case fails.
    page.get_by_role("button", name="Publish version 2").click()
    dialog = page.get_by_role("dialog")
    assert "Publish version 2?" in dialog.inner_text()
    shoot(page, f"{shot}-publish-asked")
    dialog.get_by_role("button", name="Publish").click()
    refusal = page.locator("#rules-publish-status")
    expect(refusal).to_have_text(re.compile(r"^Not published"))
    assert "abroad refers, advising approval" in refusal.inner_text()
    assert page.locator(".case.failed").count() == 1
    _fits(page)
    shoot(page, f"{shot}-publish-refused")
    with transaction(container.sessions) as session:
        assert session.get_one(Ruleset, (world.client_id, draft)).status == "draft"

    # The backtest: the applicant abroad would be approved, not referred.
    page.get_by_role("button", name="Run the backtest").click()
    page.wait_for_url(re.compile(r"/backtest\?limit="))
    numbers = page.locator("#backtest-numbers").inner_text()
    assert "decisions would change" in numbers
    assert page.locator("#backtest-numbers .kpi .value").first.inner_text() == "1"
    transitions = page.locator("#backtest-transitions tbody tr").all_inner_texts()
    assert [re.sub(r"\s+", " ", t).strip() for t in transitions] == ["Refer Approve 1"]
    assert "Abroad accepted" in page.locator("#backtest-reasons").inner_text()
    assert page.locator(".chart svg").get_attribute("role") == "img"
    _fits(page)
    shoot(page, f"{shot}-backtest")

    # Version 3, the demo's rules again with a reasons catalogue of its own: published.
    page.goto(f"/console/rules/{process_id}")
    page.get_by_label("Note").fill("Back to the guidelines")
    _upload(page, _file("v3.json", {"graph": uw.graph(), "reasons": uw.REASONS}))
    page.wait_for_url(re.compile(r"\?done=uploaded"))
    assert page.locator(".case.failed").count() == 0  # version 2's test cases, copied
    page.get_by_role("button", name="Publish version 3").click()
    page.get_by_role("dialog").get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"\?done=published"))
    assert "Published" in page.locator("h1 .status").inner_text()
    # The versions: who uploaded and published each; version 1 retired, 2 still a draft.
    page.goto(f"/console/rules/{process_id}")
    versions = page.locator(".versions .version")
    assert [v.get_attribute("data-version") for v in versions.all()] == ["3", "2", "1"]
    newest = versions.nth(0).inner_text()
    assert "Published" in newest and "by C (c@insurer.example)" in newest
    assert "Draft" in versions.nth(1).inner_text() and "Retired" in versions.nth(2).inner_text()

    # The measures: three items decided, the referral's reason as its label.
    page.get_by_role("link", name="Measures", exact=True).first.click()
    page.wait_for_url(f"**/console/rules/{process_id}/measures")
    numbers = page.locator("#measures-numbers").inner_text()
    assert "3" in numbers and "66.7 %" in numbers
    assert "Lives abroad" in page.locator("#measures-reasons").inner_text()
    assert page.locator(".chart svg").get_attribute("aria-label") == (
        "Decisions by the rules per day, by outcome"
    )
    _fits(page)
    shoot(page, f"{shot}-measures")

    # The referred item's page in the portal: its decision, the reason as a label whose
    # description opens from the keyboard.
    page.goto(f"/console/portal/items/{referred}")
    decision = page.locator("#decisions")
    assert "The rules (version 1)" in decision.inner_text()
    summary = decision.locator("details.reason summary")
    assert summary.inner_text() == "Lives abroad"
    summary.focus()
    page.keyboard.press("Enter")
    assert "outside the US" in decision.locator("details.reason").inner_text()
    _fits(page)
    shoot(page, f"{shot}-portal-decision")
    context.close()


def test_the_version_published_decides_and_a_reader_cannot_change_rules(
    browser: Any, server: str, container: Container, world: World
) -> None:
    """A draft whose test cases pass is published from the page (the one published before
    is retired); provider staff who only read rules see no upload nor publish, and the
    test cases' personal inputs masked."""
    process_id, _ = _decided(container, world)
    with container.context(world.client_user) as ctx:
        from tandem.decisions import rulesets

        draft = rulesets.create_version(ctx, process_id, uw.graph(), reasons=uw.REASONS)
        rulesets.copy_tests(ctx, draft.id, 1)
        draft_id = draft.id
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, container, "c@insurer.example")
    page.goto(f"/console/rules/versions/{draft_id}")
    assert page.locator(".case.failed").count() == 0
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_role("dialog").get_by_role("button", name="Publish").click()
    page.wait_for_url("**?done=published")
    assert "Published: this version decides" in page.locator("#rules-notice").inner_text()
    assert "Published" in page.locator("h1 .status").inner_text()
    with transaction(container.sessions) as session:
        statuses = {
            r.version: r.status
            for r in session.query(Ruleset).filter(Ruleset.process_id == process_id)
        }
    assert statuses == {1: "retired", 2: "published"}
    shoot(page, "rules-1280-published")

    # A spreadsheet whose sheet of reasons has a row without a label: the row is named.
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "out:outcome", "out:reasons"])
    sheet.append(["US", "approve", '["STANDARD_RISK"]'])
    sheet.append([None, "refer", '["RESIDES_ABROAD"]'])
    reasons = book.create_sheet("Reasons")
    reasons.append(["code", "label", "description"])
    reasons.append(["STANDARD_RISK", "Standard risk", None])
    reasons.append(["RESIDES_ABROAD", None, "Outside the US."])
    buffer = io.BytesIO()
    book.save(buffer)
    page.goto(f"/console/rules/{process_id}")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    _upload(page, {"name": "criteria.xlsx", "mimeType": xlsx, "buffer": buffer.getvalue()})
    problems = page.locator("#rules-upload-errors")
    problems.wait_for()
    row = problems.locator("tbody tr").first.inner_text()
    assert "sheet 'Reasons', row 3" in row and "give a label for RESIDES_ABROAD" in row
    context.close()

    # A team lead reads the rules: no upload, no publish; personal test inputs masked.
    with transaction(container.sessions) as session:
        from tandem.tenancy.service import create_user

        create_user(
            session,
            email="lead@provider.example",
            name="L",
            role="team_lead",
            now=container.clock.now(),
        )
    reader = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    page = reader.new_page()
    sign_in(page, container, "lead@provider.example")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Rules").click()
    page.wait_for_url("**/console/rules")
    assert "Insurer" in page.locator("#rules-processes").inner_text()
    page.goto(f"/console/rules/{process_id}")
    assert page.locator("#rules-upload").count() == 0
    page.goto(f"/console/rules/versions/{draft_id}")
    assert page.get_by_role("button", name="Publish version 2").count() == 0
    inputs = page.locator(".case details.input").first
    inputs.locator("summary").click()
    assert "Test Applicant" not in inputs.inner_text() and "T••• A•••" in inputs.inner_text()
    reader.close()
