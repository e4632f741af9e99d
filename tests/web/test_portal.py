"""The client portal in a real browser: a file with one bad row names that row's error; an
item keyed by an agent shows as delivered; another client's item cannot be opened by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.work.models import Batch, WorkItem
from tests.conftest import World
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot


@WIDTHS
def test_a_file_with_one_bad_row_shows_that_rows_error(
    width: int, browser: Any, server: str, container: Container, world: World, tmp_path: Path
) -> None:
    page = page_at(browser, server, width)
    sign_in(page, container, "c@insurer.example")
    assert page.url.endswith("/console/portal")
    fits(page)
    page.get_by_role("link", name="Keying").click()
    fits(page)
    csv = tmp_path / "claims.csv"
    csv.write_text("document_ref,pages\nscan-1.pdf,2\nscan-2.pdf,0\nscan-3.pdf,4\n")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_role("button", name="Upload").click()
    errors = page.locator("#upload-errors")
    errors.wait_for()
    assert errors.locator("tbody tr").count() == 1
    cells = errors.locator("tbody tr td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "pages" and "minimum" in cells[2]
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    assert "refused" in page.locator("#upload-status").inner_text() or "invalid" in (
        page.locator("#upload-status").inner_text()
    )
    shot(page, "portal-upload")
    page.get_by_label("If a row is wrong").select_option("accept_valid")
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("2 of 3 rows handed over").wait_for()
    page.goto("/console/portal")
    assert page.locator("#batches").get_by_text("claims.csv").count() == 2
    shot(page, "portal")


def test_a_client_cannot_open_another_clients_item_by_its_url(
    page: Any, container: Container, world: World
) -> None:
    other = world.submit(container, "insurer-only.pdf")  # the insurer's
    sign_in(page, container, "c@retailer.example")
    response = page.goto(f"/console/portal/items/{other.id}")
    assert response.status == 404
    assert "insurer-only" not in page.content()
    assert page.get_by_role("heading", name="Not found").is_visible()


@WIDTHS
def test_a_double_click_on_hand_over_hands_over_once(
    width: int, browser: Any, server: str, container: Container, world: World, tmp_path: Path
) -> None:
    """The forms send an Idempotency-Key, the same until what they handed over is accepted:
    two clicks in a row make one item, and one batch (they made two). One item by its form,
    then a file: the portal's hand-over, at a desktop's width and a phone's."""
    page = page_at(browser, server, width)
    sign_in(page, container, "c@insurer.example")
    page.get_by_role("link", name="Keying").click()
    page.get_by_label("Document ref").fill("scan-twice.pdf")
    page.get_by_role("button", name="Hand over").dblclick()
    page.get_by_text("Handed over: follow it here.").wait_for()
    shot(page, "portal-handed-over")
    csv = tmp_path / "twice.csv"
    csv.write_text("document_ref,pages\nscan-1.pdf,2\n")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_role("button", name="Upload").dblclick()
    page.get_by_text("1 of 1 rows handed over").first.wait_for()
    page.wait_for_timeout(500)  # the second request's answer, too
    shot(page, "portal-uploaded")
    with transaction(container.sessions) as session:
        refs = session.scalars(select(WorkItem.payload)).all()
        batches = session.scalar(select(func.count()).select_from(Batch))
    assert [p["document_ref"] for p in refs].count("scan-twice.pdf") == 1
    assert batches == 1


def test_a_decision_process_page_shows_its_rules_and_how_their_result_is_read(
    page: Any, container: Container, world: World
) -> None:
    """GoRules' insurance underwriting example, published with an outcome mapping: the
    client's process page lists the version and the mapping's expressions."""
    from tandem.decisions import rulesets
    from tests.decisions.test_mapping import GRAPH, HEALTHY, MAPPING, define_process_for_graph

    process_id = define_process_for_graph(container, world)
    with container.context(world.client_user) as ctx:
        rulesets.publish_version(
            ctx,
            process_id,
            GRAPH,
            [("healthy", HEALTHY, {"outcome": "approve"})],
            mapping=MAPPING,
            note="from GoRules' editor",
        )
    sign_in(page, container, "c@insurer.example")
    page.goto(f"/console/portal/processes/{process_id}")
    rules = page.locator("#rules")
    rules.wait_for()
    row = rules.locator("tbody tr").first
    assert row.locator("td").nth(1).inner_text() == "Published"
    assert rules.get_by_role("link", name="Open the rules").is_visible()
    assert "underwriting.needsManualReview ? 'refer'" in row.inner_text()
    assert "totalRiskScore" in row.locator("dd").last.inner_text()  # delivered with it
    shoot(page, "portal-rules")
