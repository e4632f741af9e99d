"""Finding items in the portal, in a real browser: by the client's own reference, by state a
page at a time with the total, with a wrong value named beside its field; on a phone too."""

from __future__ import annotations

from typing import Any

from tandem.container import Container
from tests.conftest import World
from tests.web.conftest import shoot, sign_in

DASH = "\N{EN DASH}"  # as the page writes a range of items


def _hand_over(container: Container, world: World, count: int) -> None:
    for n in range(1, count + 1):
        world.submit(container, f"scan-{n}.pdf", external_ref=f"APP-{n}")


def test_a_client_finds_an_item_by_its_reference_and_pages_through_a_state(
    page: Any, container: Container, world: World
) -> None:
    _hand_over(container, world, 60)
    sign_in(page, container, "c@insurer.example")
    page.get_by_role("link", name="Find items").click()
    assert page.locator("#found-title").inner_text() == f"1{DASH}50 of 60 items"
    page.get_by_label("Your reference").fill("APP-17")
    page.get_by_role("button", name="Find").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert rows.get_by_role("link", name="APP-17").is_visible()
    assert rows.locator("[data-state]").inner_text() == "Queued"  # a label, not the code
    rows.get_by_role("link", name="APP-17").click()
    page.wait_for_url("**/console/portal/items/*")
    page.go_back()
    page.get_by_label("Your reference").fill("")
    page.get_by_label("State").select_option("queued")
    page.get_by_label("Sort").select_option("received")
    page.get_by_role("button", name="Find").click()
    assert page.locator("#found-title").inner_text() == f"1{DASH}50 of 60 items"
    assert rows.first.get_by_role("link", name="APP-1", exact=True).is_visible()
    shoot(page, "portal-find")
    page.get_by_role("link", name="Next").click()
    assert page.locator("#found-title").inner_text() == f"51{DASH}60 of 60 items"
    assert page.get_by_label("State").input_value() == "queued"  # the search is kept
    assert rows.count() == 10
    page.get_by_label("State").select_option("delivered")
    page.get_by_role("button", name="Find").click()
    assert page.locator("#found-title").inner_text() == "No items match"


def test_a_wrong_value_is_named_beside_its_field_and_another_clients_items_never_show(
    page: Any, container: Container, world: World
) -> None:
    _hand_over(container, world, 3)
    sign_in(page, container, "c@retailer.example")
    page.goto("/console/portal/items?received_from=yesterday&ref=APP-1")
    field = page.get_by_label("Received from (Europe/London)")  # the retailer's zone
    assert field.get_attribute("aria-invalid") == "true"
    assert "2026-12-31" in page.locator("#find-received_from-error").inner_text()
    assert page.locator("#found-title").inner_text() == "No items match"  # the insurer's APP-1


def test_the_find_page_fits_a_phone(page: Any, container: Container, world: World) -> None:
    _hand_over(container, world, 3)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, container, "c@insurer.example")
    page.goto("/console/portal/items")
    assert page.locator("#found-title").inner_text() == f"1{DASH}3 of 3 items"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_label("Your reference").fill("APP-2")
    page.get_by_role("button", name="Find").click()
    assert page.locator("#found-title").inner_text() == "1 item"
    shoot(page, "portal-find-390")
