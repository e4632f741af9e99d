"""The console on the demo's operation, in a real browser: each main page as its people see
it, with the demo's masking at work. Its screenshots are the README's pictures
(docs/console/)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tandem.container import Container
from tandem.demo import seed
from tests.web.conftest import shoot, sign_in


@pytest.fixture
def demo(container: Container) -> Container:
    seed(container, items_per_process=60)
    return container


def test_the_main_pages_on_the_demo_operation(
    page: Any, browser: Any, server: str, demo: Container
) -> None:
    def person(email: str) -> Any:
        context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
        signed_in = context.new_page()
        sign_in(signed_in, demo, email)
        return signed_in

    agent = person("agent@tandem.example")
    agent.keyboard.press("n")
    agent.wait_for_url(re.compile(r"/console/(work|referrals)/"))
    text = agent.locator("main").inner_text()
    assert "@example.com" not in text and "4111 1111" not in text  # masked for agents
    shoot(agent, "docs-workbench")

    desk = person("desk@tandem.example")  # the retailer's email, at the service desk
    desk.keyboard.press("n")
    desk.wait_for_url(re.compile(r"/console/work/"))
    desk.locator("#conversation .lease-status").wait_for()
    text = desk.locator("main").inner_text()
    assert "Refund request" in text and "receipt.txt" in text  # the earliest due, attached
    assert "@example.com" not in text and "Jose Reyes" not in text  # masked for agents
    shoot(desk, "docs-desk")

    client = person("it@northwind.example")
    assert client.get_by_role("heading", name="Your service").is_visible()
    assert "%" in client.locator(".kpis").inner_text()  # the demo has history to measure
    shoot(client, "docs-portal")

    ops = person("ops@tandem.example")
    assert ops.locator("#floor tbody tr").count() >= 4
    assert ops.locator(".chart svg").count() == 1
    shoot(ops, "docs-operations")

    reviewer = person("qa@tandem.example")
    assert reviewer.url.endswith("/console/quality")
    shoot(reviewer, "docs-quality")

    admin = person("admin@tandem.example")
    admin.goto("/console/admin/users")
    assert admin.get_by_text("it@northwind.example").is_visible()
    shoot(admin, "docs-admin")
