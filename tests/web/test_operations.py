"""The operations floor in a real browser: queues, at-risk work, centers and the hourly chart,
drawn without any network; and the console in a narrow window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tests.conftest import RESULT, World
from tests.web.conftest import shoot, sign_in


def test_the_floor_shows_queues_risk_and_throughput(
    page: Any, container: Container, world: World, clock: ManualClock
) -> None:
    delivered = world.submit(container, "done.pdf")
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
        assert lease is not None and lease.item_id == delivered.id
        container.dispatcher.submit(session, world.agent_id, lease.item_id, lease.attempt, RESULT)
    for n in range(3):
        world.submit(container, f"waiting-{n}.pdf")
    clock.advance(timedelta(hours=3, minutes=30))  # past 75 % of the 4-hour SLA: at risk
    with transaction(container.sessions) as session:
        from tandem.work.transitions import escalate

        assert escalate(session, clock.now(), 0) == (3, 0)
    sign_in(page, container, "o@provider.example")
    assert page.url.endswith("/console/operations")
    row = page.locator("#floor tbody tr", has_text="Keying").first
    cells = row.locator("td").all_inner_texts()
    assert cells[3] == "3" and cells[4] == "3" and cells[8] == "3" and cells[9] == "0"
    chart = page.locator(".chart svg")
    assert chart.get_attribute("aria-label") == "Items delivered per hour"
    assert "Delivered in the last 24 hours: 1" in page.locator("#floor").inner_text()
    shoot(page, "operations")


def test_pages_fit_a_narrow_window(
    browser: Any, server: str, container: Container, world: World
) -> None:
    """At 390 px (a phone), no main page scrolls sideways: tables scroll in their own box."""
    item = world.submit(container, "narrow.pdf")

    def fits(email: str, urls: list[str], shot: str) -> None:
        context = browser.new_context(base_url=server, viewport={"width": 390, "height": 800})
        narrow = context.new_page()
        sign_in(narrow, container, email)
        for url in urls:
            narrow.goto(url)
            width = narrow.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 390, f"{url} scrolls sideways: {width}px wide"
        shoot(narrow, shot)
        context.close()

    fits(
        "c@insurer.example",
        ["/console/portal", f"/console/portal/processes/{world.process_id}"],
        "portal-narrow",
    )
    fits("o@provider.example", ["/console/operations"], "operations-narrow")
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
        assert lease is not None and lease.item_id == item.id
    fits("a@provider.example", ["/console/work", f"/console/work/{item.id}"], "workbench-narrow")
