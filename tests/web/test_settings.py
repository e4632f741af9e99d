"""Times in each person's time zone, named, in a real browser: a client's people read their
client's zone until they choose their own; money shows its currency."""

from __future__ import annotations

from typing import Any

from tandem.container import Container
from tests.conftest import World
from tests.web.conftest import PASSWORD, shoot, sign_in


def test_times_follow_the_persons_zone_and_say_which(
    page: Any, container: Container, world: World
) -> None:
    item = world.submit(container, "scan-1.pdf", external_ref="APP-1")
    received_utc = item.received_at  # 2026-03-04 15:00 UTC in the tests' clock
    sign_in(page, container, "c@insurer.example")
    assert "America/New_York" in page.locator("header").inner_text()
    latest = page.locator("#items-title ~ .table-wrap")
    assert "Received (America/New_York)" in latest.locator("thead").inner_text()
    assert f"{received_utc:%Y-%m-%d} 10:00" in latest.locator("tbody").inner_text()  # EST
    assert "USD" in page.locator(".kpis").inner_text()  # the cost names its currency
    page.get_by_role("link", name="America/New_York").click()
    page.get_by_label("Show times in").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved").wait_for()
    shoot(page, "settings")
    page.goto("/console/portal")
    assert "Asia/Tokyo" in page.locator("header").inner_text()
    assert f"{received_utc:%Y-%m-%d} 00:00" not in latest.locator("tbody").inner_text()
    assert "2026-03-05 00:00" in latest.locator("tbody").inner_text()  # 15:00 UTC + 9 h
    page.goto("/console/me")
    page.get_by_label("Show times in").select_option("")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved").wait_for()
    page.goto("/console/portal")
    assert "America/New_York" in page.locator("header").inner_text()


def test_a_wrong_current_password_is_said_and_the_right_one_changes_it(
    page: Any, container: Container, world: World
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.goto("/console/me")
    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password").fill("a much longer new password 2026")
    page.get_by_role("button", name="Change password").click()
    page.locator("#toast").get_by_text("the current password is wrong").wait_for()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Changed.").wait_for()
