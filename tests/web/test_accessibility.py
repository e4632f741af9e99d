"""The console's main pages pass an automated accessibility check (axe-core, injected into the
page by the test) with no serious or critical violation, on the demo's operation, at 1280 px
and at 390 px (a phone)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tandem.container import Container
from tandem.demo import seed
from tests.web.conftest import sign_in

AXE = Axe()
BLOCKING = {"serious", "critical"}
WIDTHS = (1280, 390)

# Whose pages: (email, the pages they open; "n" claims the next item first)
PEOPLE: dict[str, tuple[str, ...]] = {
    "it@northwind.example": (
        "/console/portal",
        "/console/portal/items",
        "/console/portal/items?state=delivered",
        "first process",
        "first item",
        "/console/rules",
        "first rules",
        "first rules version",
        "first rules measures",
        "/console/qa",
    ),
    "agent@tandem.example": ("/console/work", "n"),
    "desk@tandem.example": ("/console/work", "n"),  # a conversation, at the service desk
    "ops@tandem.example": (
        "/console/operations",
        "first rules backtest",
        "/console/qa",
        "/console/qa?by=field",
        "/console/qa/alerts",
        "/console/qa/policies",
        "first policy",
        "/console/qa/gold",
        "/console/qa/standing",
    ),
    "qa@tandem.example": ("/console/quality",),
    "admin@tandem.example": (
        "/console/admin",
        "/console/admin/users",
        "/console/admin/processes",
        "/console/admin/agents",
    ),
}

# Pages anyone may open: the demo brand's contact form, and what an unknown link shows.
PUBLIC = ("/help/shopwave/contact", "/c/" + "Z" * 43)


@pytest.fixture
def demo(container: Container) -> Container:
    seed(container, items_per_process=20)
    return container


def _problems(page: Any) -> list[str]:
    results = AXE.run(page)
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def _open(page: Any, where: str) -> None:
    if where == "n":
        page.keyboard.press("n")
        page.wait_for_url(re.compile(r"/console/(work|referrals)/"))
    elif where == "first process":
        page.goto("/console/portal")
        page.locator("#processes-title + ul a").first.click()
    elif where == "first policy":
        page.goto("/console/qa/policies")
        page.locator("#policies tbody a").first.click()
        page.wait_for_url(re.compile(r"/console/qa/policies/"))
    elif where == "first item":
        page.goto("/console/portal")
        page.locator("#items-title ~ .table-wrap tbody a").first.click()
    elif where.startswith("first rules"):  # the first decision process's rules pages
        page.goto("/console/rules")
        page.locator("#rules-processes tbody td a").first.click()
        page.wait_for_url(re.compile(r"/console/rules/[0-9a-f-]+$"))
        if where.endswith("measures"):
            page.get_by_role("link", name="Measures", exact=True).click()
        elif where.endswith(("version", "backtest")):
            page.locator(".versions h3 a").first.click()
            page.wait_for_url(re.compile(r"/console/rules/versions/"))
        if where.endswith("backtest"):
            page.get_by_role("button", name="Run the backtest").click()
            page.wait_for_url(re.compile(r"/backtest\?"))
    else:
        page.goto(where)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_main_pages_have_no_serious_accessibility_violation(
    browser: Any, server: str, demo: Container, width: int
) -> None:
    found: list[str] = []
    anonymous = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    sign_in_page = anonymous.new_page()
    sign_in_page.goto("/sign-in")
    found += _problems(sign_in_page)
    for where in PUBLIC:  # an anonymous visitor: the service desk's public pages
        sign_in_page.goto(where)
        found += _problems(sign_in_page)
    for email, pages in PEOPLE.items():
        context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, demo, email)
        for where in pages:
            _open(page, where)
            found += _problems(page)
    assert found == [], "\n".join(found)


def test_the_check_finds_what_it_looks_for(browser: Any, server: str) -> None:
    """The check itself: a button without a name and an image without a text are found."""
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.goto("/sign-in")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<button></button><img src=\"/static/none.png\">')"
    )
    problems = _problems(page)
    assert any("button-name" in problem for problem in problems), problems
    assert any("image-alt" in problem for problem in problems), problems
