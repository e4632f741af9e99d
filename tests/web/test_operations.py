"""The operations floor in a real browser: queues, at-risk work, centers and the hourly chart,
drawn without any network; and the console in a narrow window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tandem.clock import ManualClock
from tandem.db import transaction
from tandem.http import Container
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
        from tandem.sla.service import escalate

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


def test_pages_fit_a_narrow_window(page: Any, container: Container, world: World) -> None:
    world.submit(container, "narrow.pdf")
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, container, "c@insurer.example")
    for url in ("/console/portal", f"/console/portal/processes/{world.process_id}"):
        page.goto(url)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{url} scrolls sideways: {width}px wide"
    shoot(page, "portal-narrow")
