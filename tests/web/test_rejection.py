"""The client's rejection of a delivered result in a real browser: from the portal's item
page, the item goes back to the queue due the process's rework target from the rejection,
not breached (not its first due time, long past)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.quality.models import Review
from tandem.quality.rejection import reject_delivered
from tandem.work.models import WorkItem
from tandem.work.transitions import escalate
from tests.conftest import RESULT, T0, World
from tests.web.conftest import shoot, sign_in

NEW_YORK = ZoneInfo("America/New_York")  # the insurer's time zone


def _delivered(container: Container, world: World) -> WorkItem:
    """An item of the insurer's keying process, keyed by the agent and delivered at once."""
    item = world.submit(container, "scan-7.pdf")
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
        assert lease is not None and lease.item_id == item.id
        container.dispatcher.submit(session, world.agent_id, item.id, lease.attempt, RESULT)
    return item


def test_a_client_rejects_a_delivered_result_and_it_is_queued_with_a_new_due_time(
    page: Any, container: Container, world: World, clock: ManualClock
) -> None:
    with transaction(container.sessions) as session:
        session.get_one(Process, (world.client_id, world.process_id)).rework_sla_minutes = 120
    item = _delivered(container, world)
    first_due = item.due_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M America/New_York")
    # The client looks the next day (Thursday, 10:00 in New York): the first due time is past.
    clock.advance(timedelta(days=1))
    sign_in(page, container, "c@insurer.example")
    page.goto(f"/console/portal/items/{item.id}")
    assert page.locator("#item-state").inner_text() == "Delivered"
    form = page.locator("#reject")
    assert form.get_by_role("heading", name="Reject this result").is_visible()
    assert "120 minutes of business hours" in form.inner_text()

    # No reason: said at the box, nothing sent.
    send = form.get_by_role("button", name="Send the result back")
    send.click()
    reason = form.get_by_label("What is wrong with it")
    assert reason.get_attribute("aria-invalid") == "true"
    assert "the reason is required" in form.locator("#reject-reason-error").inner_text()
    assert page.locator("#item-state").inner_text() == "Delivered"

    reason.fill("The coverage is 205,000 on the scan, not 250,000.")
    assert form.locator("#reject-reason-error").count() == 0  # gone once the box is changed
    form.get_by_label("coverage amount").check()
    shoot(page, "portal-reject")
    send.click()
    page.get_by_text("Sent back: the result is redone by the new due time").wait_for()
    assert "done=rejected" in page.url
    # Queued again, due two business hours from the rejection (Thursday 12:00 in New York).
    assert page.locator("#item-state").inner_text() == "Queued"
    # 17:00 UTC, in the insurer's zone, which its people read times in
    assert page.locator("#item-due").inner_text() == "2026-03-05 12:00 America/New_York"
    assert page.locator("#item-sla").inner_text() == "on track"
    first = page.locator("#item-first-delivery").inner_text()
    assert "on time" in first and first_due in first
    assert page.locator("#reject").count() == 0  # no longer delivered: nothing to reject
    shoot(page, "portal-rejected")

    # The worker's SLA pass finds nothing breached, nor at risk: the redo's clock just began.
    with transaction(container.sessions) as session:
        assert escalate(session, clock.now(), 5) == (0, 0)
        row = session.get_one(WorkItem, (world.client_id, item.id))
        escaped = session.scalars(select(Review).where(Review.kind == "acceptance")).one()
    assert (row.state, row.at_risk, row.breached, row.recheck) == ("queued", False, False, True)
    assert row.due_at == T0 + timedelta(days=1, hours=2)
    assert (escaped.verdict, escaped.defect) == ("reject", True)
    assert [check["name"] for check in escaped.checks if not check["passed"]] == ["coverage_amount"]
    page.goto("/console/portal")
    assert "0 at risk, 0 breached" in page.locator(".kpis").inner_text()
    listed = page.locator("tbody tr", has=page.locator(f'a[href$="{item.id}"]'))
    assert listed.locator("[data-state]").get_attribute("data-state") == "queued"
    assert "2026-03-05 12:00" in listed.inner_text()  # 17:00 UTC in New York


def test_a_result_rejected_meanwhile_says_so_and_changes_nothing(
    page: Any, container: Container, world: World
) -> None:
    """The page was opened while the item was delivered; someone else sent it back since:
    the form says why nothing more happens, and the page stays as it was."""
    item = _delivered(container, world)
    sign_in(page, container, "c@insurer.example")
    page.goto(f"/console/portal/items/{item.id}")
    with container.context(world.client_user) as ctx:
        reject_delivered(ctx, item.id, reason="from another tab", at_risk_fraction=0.75)
    form = page.locator("#reject")
    form.get_by_label("What is wrong with it").fill("wrong amount")
    form.get_by_role("button", name="Send the result back").click()
    toast = page.locator("#toast")
    toast.get_by_text("only a delivered item is rejected").wait_for()
    assert form.get_by_role("button", name="Send the result back").is_enabled()
    assert "done=rejected" not in page.url
    with transaction(container.sessions) as session:
        rejections = session.scalars(select(Review).where(Review.kind == "acceptance")).all()
    assert len(rejections) == 1
