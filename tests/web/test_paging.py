"""A console list a page at a time, in a real browser at 1280 and 390 px (issue 16): an ops
manager's gold items, 53 of them, show the first 50 with the total and the pages, Next and
Previous keep the chosen process, and the page passes axe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tandem.container import Container
from tandem.core.clock import ManualClock
from tests.conftest import RESULT, World
from tests.quality.conftest import GOLD_PAYLOAD, personal_process
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, fits, page_at
from tests.web.test_accessibility import _problems


@WIDTHS
def test_a_long_list_shows_its_total_and_pages_through(
    browser: Any,
    server: str,
    container: Container,
    world: World,
    clock: ManualClock,
    api: Any,
    width: int,
) -> None:
    process_id = personal_process(container, world)
    for n in range(53):
        added = api("ops").post(
            "/api/v1/quality/gold-items",
            json={
                "process_id": str(process_id),
                "payload": {**GOLD_PAYLOAD, "applicant_name": f"Applicant {n}"},
                "answer": RESULT,
            },
        )
        assert added.status_code == 201, added.text
        clock.advance(timedelta(seconds=1))
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")
    page.goto(f"/console/qa/gold?process={process_id}")
    pages = page.get_by_role("navigation", name="Pages of gold items")
    assert " ".join(pages.inner_text().split()) == "1\u201350 of 53 gold items · page 1 of 2 Next"
    assert page.locator("#golds article").count() == 50
    assert "(53)" in page.locator("#golds-title").inner_text()
    fits(page)
    assert _problems(page) == []
    shoot(page, "paging" if width == 1280 else f"paging-{width}")

    pages.get_by_role("link", name="Next").click()
    page.wait_for_load_state()
    pages = page.get_by_role("navigation", name="Pages of gold items")
    shown = " ".join(pages.inner_text().split())
    assert shown == "Previous 51\u201353 of 53 gold items · page 2 of 2"
    assert page.locator("#golds article").count() == 3
    assert f"process={process_id}" in page.url  # the chosen process is kept
    pages.get_by_role("link", name="Previous").click()
    page.wait_for_load_state()
    assert page.locator("#golds article").count() == 50
