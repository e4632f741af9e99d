"""The document beside the form, in a real browser: an agent takes an item handed over with
a scanned PDF, sees its first page beside the form, pages, zooms and rotates it by keys while
the cursor stays in the form; a reviewer sees it beside the result."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.service import create_user
from tests.conftest import RESULT, World
from tests.documents import samples
from tests.quality.conftest import set_policy
from tests.web.conftest import shoot, sign_in


def _hand_over(api: Any, world: World, pages: int = 3) -> str:
    response = api("client").post(
        f"/api/v1/processes/{world.process_id}/work-items/with-document",
        data={"payload": json.dumps({"document_ref": "scan-90980136.pdf"})},
        files={"document": ("scan-90980136.pdf", samples.pdf(pages), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    item_id: str = response.json()["id"]
    return item_id


def _shown(page: Any) -> dict[str, Any]:
    """The page image once it has loaded: its number, rotation and drawn size."""
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-doc-image]');"
        " return i && i.complete && i.naturalWidth > 0"
        " && !document.querySelector('.document-frame').hasAttribute('aria-busy'); }"
    )
    shown: dict[str, Any] = page.evaluate(
        "() => { const i = document.querySelector('[data-doc-image]');"
        " return {number: i.dataset.number, rotate: i.dataset.rotate,"
        " width: i.naturalWidth, height: i.naturalHeight, alt: i.alt,"
        " where: document.querySelector('.document-where').textContent.trim(),"
        " zoom: document.querySelector('[data-doc-zoom]').textContent}; }"
    )
    return shown


def test_an_agent_sees_the_document_beside_the_form_and_pages_zooms_rotates_by_keys(
    page: Any, api: Any, container: Container, world: World
) -> None:
    item_id = _hand_over(api, world)
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")
    page.wait_for_url(f"**/console/work/{item_id}")
    viewer = page.locator(".document-viewer")
    assert viewer.is_visible()
    first = _shown(page)
    assert (first["number"], first["rotate"], first["where"]) == ("1", "0", "Page 1 of 3")
    assert first["alt"] == "Page 1 of 3 of the document"
    assert first["height"] > first["width"]  # a portrait page
    # Beside the form: the document on the left, the result form on the right.
    document_box = viewer.bounding_box()
    form_box = page.locator("form.result").bounding_box()
    assert document_box["x"] + document_box["width"] <= form_box["x"]
    assert page.evaluate("document.activeElement.name") == "applicant_name"
    shoot(page, "document-beside-the-form")

    page.keyboard.type("Maria")  # typing in the form, the keys still page the document
    page.keyboard.press("PageDown")
    second = _shown(page)
    assert (second["number"], second["where"]) == ("2", "Page 2 of 3")
    assert page.evaluate("document.activeElement.name") == "applicant_name"
    page.keyboard.press("Alt+Equal")
    zoomed = _shown(page)
    assert zoomed["zoom"] == "125%"
    assert zoomed["width"] > second["width"]
    page.keyboard.press("Alt+KeyR")
    turned = _shown(page)
    assert turned["rotate"] == "90"
    assert turned["width"] > turned["height"]  # on its side
    shoot(page, "document-zoomed-and-turned")
    page.keyboard.press("Alt+Digit0")
    page.keyboard.press("PageUp")
    back = _shown(page)
    assert (back["number"], back["zoom"], back["rotate"]) == ("1", "100%", "90")
    page.get_by_role("button", name="Next page").click()
    assert _shown(page)["number"] == "2"
    assert page.get_by_label("Applicant name").input_value() == "Maria"

    with transaction(container.sessions) as session:
        opened = session.scalars(
            select(AuditRecord.actor).where(
                AuditRecord.action == "document.open",
                AuditRecord.subject == f"work_item:{item_id}",
            )
        ).all()
    assert opened == [f"agent:{world.agent_id}"]  # opened once, however many pages


def test_an_item_without_a_document_shows_none(
    page: Any, container: Container, world: World
) -> None:
    item = world.submit(container, "paper-only.pdf")
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")
    page.wait_for_url(f"**/console/work/{item.id}")
    page.wait_for_load_state("networkidle")
    assert page.locator(".document-viewer").is_hidden()


def test_a_reviewer_sees_the_document_beside_the_result(
    page: Any, api: Any, container: Container, world: World
) -> None:
    set_policy(container, world.process_id, "full_review")
    item_id = _hand_over(api, world, pages=2)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    submitted = api("agent").post(
        f"/api/v1/leases/{item_id}/submit", json={"attempt": lease["attempt"], "result": RESULT}
    )
    assert submitted.json()["state"] == "in_review"
    with transaction(container.sessions) as session:
        create_user(
            session,
            email="q@provider.example",
            name="Q",
            role="qa_reviewer",
            now=container.clock.now(),
        )
    sign_in(page, container, "q@provider.example")
    page.goto(f"/console/quality/reviews/{item_id}")
    shown = _shown(page)
    assert shown["where"] == "Page 1 of 2"
    page.locator(".document-frame").focus()
    page.keyboard.press("ArrowRight")  # the frame focused, plain keys page too
    assert _shown(page)["number"] == "2"
    viewer = page.locator(".document-viewer").bounding_box()
    result = page.locator("#result").bounding_box()
    assert viewer["x"] + viewer["width"] <= result["x"]
    shoot(page, "document-beside-the-review")


def test_the_client_sees_its_document_on_its_items_page_and_the_opening_is_recorded(
    page: Any, api: Any, container: Container, world: World
) -> None:
    item_id = _hand_over(api, world, pages=2)
    sign_in(page, container, "c@insurer.example")
    page.goto(f"/console/portal/items/{item_id}")
    assert _shown(page)["where"] == "Page 1 of 2"
    with transaction(container.sessions) as session:
        opened = session.scalars(
            select(AuditRecord).where(AuditRecord.subject == f"work_item:{item_id}")
        ).all()
    assert any("document" in record.action for record in opened)
