"""The desk's managers keep a brand's macros in the console: a variable that does not exist is
refused at the text's field, the saved macro is listed with its actions, and deleted; at a
desktop's width and a phone's."""

from __future__ import annotations

from typing import Any

from tandem.container import Container
from tests.servicedesk.conftest import Desk
from tests.servicedesk.conftest import desk as desk_fixture
from tests.web.conftest import sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot

desk = desk_fixture  # a brand for each client


@WIDTHS
def test_a_manager_writes_a_macro_and_a_typo_in_a_variable_is_named(
    width: int, browser: Any, server: str, container: Container, desk: Desk
) -> None:
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")
    page.goto("/console/macros")
    assert page.get_by_role("link", name="Macros", exact=True).count() >= 1  # in the menu
    page.get_by_role("link", name="Acme").click()
    page.wait_for_url(f"**/console/macros/{desk.brand_id}")
    page.get_by_label("Title").fill("Refund on its way")
    text = page.get_by_label("Text", exact=True)
    text.fill("Hello {{customer.frist_name}}, your refund is sent.")
    page.get_by_label("Tags to add (separated by commas)").fill("refund, billing")
    page.get_by_label("Then leave the conversation").select_option("solved")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#macro-body-error")
    error.wait_for()
    assert "customer.frist_name" in error.inner_text()
    fits(page)
    text.fill("Hello {{customer.first_name}}, your refund is sent.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**saved=1")
    listed = page.locator(".kb-articles").inner_text()
    assert "Refund on its way" in listed and "tags refund, billing" in listed
    assert "leaves it solved" in listed
    shot(page, "macros")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/console/macros/{desk.brand_id}")
    assert page.get_by_text("None yet.").is_visible()
