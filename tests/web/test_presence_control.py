"""The workbench's break control in a real browser: take a break (the next item is not
offered meanwhile and a claim is refused), come back, and take the next item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tandem.container import Container
from tandem.workforce.models import AgentPresence
from tests.conftest import World
from tests.web.conftest import shoot, sign_in


def test_an_agent_takes_a_break_and_comes_back_on_the_workbench(
    page: Any, container: Container, world: World
) -> None:
    item = world.submit(container, "scan-break.pdf")
    sign_in(page, container, "a@provider.example")
    page.goto("/console/work")
    page.get_by_role("button", name="Take a break").click()
    page.wait_for_url("**/console/work")
    assert "You are on a break" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("button", name="Next item").is_disabled()
    shoot(page, "workbench-on-a-break")
    # A claim from the page's own script is refused with the dispatcher's problem.
    refused = page.evaluate(
        "async () => { const r = await fetch('/api/v1/dispatch/claim', {method: 'POST'});"
        " return [r.status, (await r.json()).title]; }"
    )
    assert refused == [409, "On a break"]
    page.get_by_role("button", name="I'm back").click()
    page.wait_for_url("**/console/work")
    assert page.get_by_role("button", name="Take a break").is_visible()
    page.get_by_role("button", name="Next item").click()
    page.wait_for_url(f"**/console/work/{item.id}")
    with container.sessions() as session:
        rows = session.execute(
            select(AgentPresence.state, AgentPresence.means)
            .where(AgentPresence.agent_id == world.agent_id)
            .order_by(AgentPresence.at, AgentPresence.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("available", "sign_in"),
        ("break", "console"),
        ("available", "console"),
    ]
