"""Operations acting on work in a real browser, at a desk (1280 px) and on a phone (390 px,
where no page scrolls sideways: tables scroll in their own box): from the floor's breached
list to an item's page, holding, resuming and reprioritizing it; and one action (cancel,
with one reason) on several items ticked in the list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.work.models import WorkItem
from tandem.work.transitions import escalate
from tests.conftest import World
from tests.web.conftest import shoot, sign_in

WIDTHS = pytest.mark.parametrize("width", [1280, 390], ids=["desk", "phone"])


@pytest.fixture
def sized(browser: Any, server: str, width: int) -> Iterator[Any]:
    """A fresh page `width` pixels wide, offline but for the server."""
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    yield context.new_page()
    context.close()


def _fits(page: Any, width: int) -> None:
    scrolled = page.evaluate("document.scrollingElement.scrollWidth")
    assert scrolled <= width, f"{page.url} scrolls sideways: {scrolled}px wide"


def _state(container: Container, ref: str) -> tuple[str, int]:
    with transaction(container.sessions) as session:
        row = session.execute(
            select(WorkItem.state, WorkItem.priority).where(WorkItem.external_ref == ref)
        ).one()
        return row.state, row.priority


@WIDTHS
def test_from_the_floors_breached_list_to_the_item_hold_resume_reprioritize(
    sized: Any, width: int, container: Container, world: World, clock: ManualClock
) -> None:
    page = sized
    late = world.submit(container, "late.pdf", external_ref="APP-LATE")
    clock.advance(timedelta(hours=5))  # past the 4-hour SLA (business hours: 10:00 to 15:00)
    world.submit(container, "fresh.pdf", external_ref="APP-FRESH")
    with transaction(container.sessions) as session:
        escalate(session, clock.now(), 0)
    sign_in(page, container, "o@provider.example")
    assert page.url.endswith("/console/operations")
    urgent = page.locator("#urgent tbody tr[data-breached]")
    assert urgent.count() == 1
    short = str(late.id).replace("-", "")[-8:]
    assert urgent.locator("td").nth(1).inner_text() == short
    _fits(page, width)
    shoot(page, f"ops-floor-{width}")
    urgent.get_by_role("link", name="APP-LATE").click()
    page.wait_for_url(f"**/console/items/{late.id}")
    assert page.locator("h1").inner_text().startswith("Item APP-LATE")
    assert page.locator("#item-state").inner_text() == "Queued"
    assert page.locator("#item-sla").inner_text().strip() == "Breached"
    assert "overdue by" in page.locator("#item-left").inner_text()
    assert "America/New_York" in page.locator("#item-due").inner_text()
    _fits(page, width)
    shoot(page, f"ops-item-{width}")

    # Hold: the reason is asked for first, then the item waits.
    hold = page.locator("form[data-action=hold]")
    hold.get_by_role("button", name="Put on hold").click()
    assert hold.locator(".field-error").inner_text() == "Required: say why."
    hold.get_by_label("Why").fill("waiting for a legible scan")
    hold.get_by_role("button", name="Put on hold").click()
    page.wait_for_url("**?done=hold")
    assert page.locator("#item-state").inner_text() == "On hold"
    assert "paused" in page.locator("#item-notice").inner_text()
    assert "waiting for a legible scan" in page.locator("#history").inner_text()
    assert "overdue by 1h 00m" in page.locator("#item-left").inner_text()
    assert "O (ops manager)" in page.locator("#history").inner_text()
    _fits(page, width)
    shoot(page, f"ops-item-held-{width}")

    page.locator("form[data-action=resume]").get_by_role("button", name="Resume").click()
    page.wait_for_url("**?done=resume")
    assert page.locator("#item-state").inner_text() == "Queued"

    priority = page.locator("form[data-action=priority]")
    priority.get_by_label("Priority").fill("25")
    priority.get_by_role("button", name="Set priority").click()
    page.wait_for_url("**?done=priority")
    assert page.locator("#item-priority").inner_text() == "25"
    assert "priority 0 → 25" in page.locator("#history").inner_text()
    assert _state(container, "APP-LATE") == ("queued", 25)
    _fits(page, width)
    shoot(page, f"ops-item-acted-{width}")

    # The floor's link to all the breached ones: the list, filtered.
    page.goto("/console/operations")
    page.locator("#urgent-lists").get_by_role("link", name="breached").click()
    page.wait_for_url("**/console/items?**sla=breached**")
    assert page.locator("#found-title").inner_text() == "1\N{EN DASH}1 of 1 items"
    assert page.locator("#items tbody tr").count() == 1


@WIDTHS
def test_several_items_ticked_in_the_list_are_cancelled_with_one_reason(
    sized: Any, width: int, container: Container, world: World
) -> None:
    page = sized
    for n in range(4):
        world.submit(container, f"bulk-{n}.pdf", external_ref=f"BULK-{n}")
    sign_in(page, container, "o@provider.example")
    page.goto("/console/items?sort=received")
    assert page.locator("#found-title").inner_text() == "1\N{EN DASH}4 of 4 items"
    _fits(page, width)
    rows = page.locator("#items tbody tr")
    assert rows.count() == 4
    apply = page.locator("#bulk").get_by_role("button", name="Apply")
    assert apply.is_disabled()
    for n in range(3):
        page.get_by_role("checkbox", name=f"Select BULK-{n}").check()
    assert page.locator("#bulk-count").inner_text() == "3 selected."
    page.locator("#bulk").get_by_label("Action").select_option("cancel")
    page.locator("#bulk").get_by_role("button", name="Apply to 3 items").click()
    assert page.locator("#bulk-reason").get_attribute("aria-invalid") == "true"
    page.locator("#bulk").get_by_label("Reason").fill("the client withdrew them")
    page.locator("#bulk").get_by_role("button", name="Apply to 3 items").click()
    report = page.locator("#bulk-report")
    report.wait_for(state="visible")
    assert report.locator("h3").inner_text() == "3 done, 0 refused"
    assert report.locator("tbody tr[data-outcome=done]").count() == 3
    for n in range(3):
        assert rows.nth(n).locator("[data-state]").inner_text() == "Cancelled"
        assert _state(container, f"BULK-{n}")[0] == "cancelled"
    assert rows.nth(3).locator("[data-state]").inner_text() == "Queued"
    _fits(page, width)
    shoot(page, f"ops-items-bulk-{width}")

    # Again with one already cancelled: it is refused, the other done.
    page.get_by_role("checkbox", name="Select BULK-2").check()
    page.get_by_role("checkbox", name="Select BULK-3").check()
    page.locator("#bulk").get_by_role("button", name="Apply to 2 items").click()
    report.locator("h3", has_text="1 done, 1 refused").wait_for()
    refused = report.locator("tbody tr[data-outcome=refused]")
    assert "BULK-2" in refused.inner_text() and "cancelled" in refused.inner_text()
    with transaction(container.sessions) as session:
        cancels = session.scalars(
            select(AuditRecord.data).where(AuditRecord.action == "work_item.cancel")
        ).all()
    assert [data["reason"] for data in cancels] == ["the client withdrew them"] * 4
    _fits(page, width)
    shoot(page, f"ops-items-refused-{width}")
    # Opened afresh, the list shows the work still to do: none left.
    page.goto("/console/items")
    assert page.get_by_label("State").input_value() == "open"
    assert page.locator("#found-title").inner_text() == "No items match"
