"""The agent's workbench in a real browser: sign in, take the next item by key, key it with
an error shown at its field, submit, and the item is delivered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tandem.container import Container
from tandem.core.db import transaction
from tandem.work.models import WorkItem
from tests.conftest import World
from tests.web.conftest import sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot


@WIDTHS
def test_an_agent_takes_keys_and_submits_an_item_the_client_sees_delivered(
    width: int, browser: Any, server: str, container: Container, world: World
) -> None:
    item = world.submit(container, "scan-0042.pdf")
    page = page_at(browser, server, width)
    page.goto("/console/work")  # not signed in: to the sign-in page and back
    assert "/sign-in" in page.url
    shot(page, "sign-in")
    sign_in(page, container, "a@provider.example")
    assert page.url.endswith("/console/work")
    fits(page)
    page.keyboard.press("n")  # the next item, by key
    page.wait_for_url(f"**/console/work/{item.id}")
    assert page.get_by_text("scan-0042.pdf").is_visible()
    assert "due in" in page.locator(".sla").first.inner_text()
    fits(page)
    page.get_by_label("Applicant name").fill("Maria Santos")
    page.get_by_label("Coverage amount").fill("500")  # below the form's minimum of 1000
    page.get_by_label("Coverage amount").press("Enter")
    error = page.locator("#result-coverage_amount-error")
    error.wait_for()
    assert "1000" in error.inner_text()
    assert page.get_by_label("Coverage amount").get_attribute("aria-invalid") == "true"
    shot(page, "workbench-item")
    page.get_by_label("Coverage amount").fill("250000")
    page.get_by_label("Coverage amount").press("Enter")
    page.wait_for_url("**/console/work?done=*")
    shot(page, "workbench")
    with transaction(container.sessions) as session:
        stored = session.get_one(WorkItem, (item.client_id, item.id))
        assert stored.state == "delivered"
        assert stored.result == {"applicant_name": "Maria Santos", "coverage_amount": 250000}
    portal = page_at(browser, server, width)
    sign_in(portal, container, "c@insurer.example")
    portal.get_by_role("link", name=f"Item {item.id.hex[-8:]}").click()  # its short id
    assert portal.locator("#item-state").inner_text() == "Delivered"
    assert portal.get_by_text("Maria Santos").is_visible()
    shot(portal, "portal-item")


@WIDTHS
def test_an_agent_holding_an_item_goes_back_to_it_and_its_lease_is_renewed_on_opening(
    width: int, browser: Any, server: str, container: Container, world: World
) -> None:
    """`n` while holding an item opens it instead of claiming a second one; after a claim the
    first field has focus; reopening a held item renews its lease at once (the first renewal
    came a third of the lease after loading, after the reaper had taken the item back)."""
    first = world.submit(container, "scan-1.pdf")
    world.submit(container, "scan-2.pdf")
    page = page_at(browser, server, width)
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")
    page.wait_for_url(f"**/console/work/{first.id}")
    assert page.evaluate("document.activeElement.name") == "applicant_name"
    with transaction(container.sessions) as session:
        leased = session.get_one(WorkItem, (first.client_id, first.id))
        expires = leased.lease_expires_at
    container.clock.advance(timedelta(seconds=50))  # most of the test's 60 s lease gone
    page.goto("/console/work")
    assert page.get_by_role("button", name="Back to your item").is_visible()
    shot(page, "workbench-holding")
    page.keyboard.press("n")
    page.wait_for_url(f"**/console/work/{first.id}")
    page.wait_for_function("() => document.querySelector('.lease-status') !== null")
    fits(page)
    with transaction(container.sessions) as session:
        items = session.query(WorkItem).filter(WorkItem.lease_owner.is_not(None)).all()
        assert [i.id for i in items] == [first.id]  # no second item claimed
    deadline = container.clock.now()
    for _ in range(50):  # the renewal on opening lands within moments
        with transaction(container.sessions) as session:
            renewed = session.get_one(WorkItem, (first.client_id, first.id)).lease_expires_at
        if renewed is not None and expires is not None and renewed > expires:
            break
        page.wait_for_timeout(100)
    assert renewed is not None and renewed > deadline, (renewed, deadline)
