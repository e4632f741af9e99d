"""Shift requests in a real browser, at a desktop's width and a phone's: an agent opens "My
schedule" from the navigation, reads two weeks of shifts in their center's time, asks for a
day off and a start (a refusal named at its field), withdraws one; a roster planned over
the date grants the day off, and the planner's roster page says so, as does the agent's.
Both pages fit the width and pass axe."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user
from tandem.workforce import rosters
from tandem.workforce.models import Agent
from tests.conftest import World, _agent
from tests.web.conftest import sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot
from tests.web.test_accessibility import _problems

MANILA = ZoneInfo("Asia/Manila")
MONDAY = date(2026, 3, 9)  # T0 is Wednesday 4 March 2026, 23:00 in Manila
NINE_TO_FIVE = [(d, 9 * 60, 480) for d in range(5)]


def _agent_user(container: Container, world: World, email: str) -> Any:
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email=email,
            name=email.split("@")[0].title(),
            role="agent",
            now=container.clock.now(),
        )
        agent_id = _agent(session, [world.client_id], user_id=user.id, shifts=NINE_TO_FIVE)
        session.get_one(Agent, agent_id).name = user.name
        return agent_id


def _plan_monday(container: Container, world: World) -> Any:
    """Monday 09:00 to 17:00 in Manila needs one agent."""
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email="p@provider.example",
            name="P",
            role="wfm_planner",
            now=container.clock.now(),
        )
        planner = Principal(user.id, "wfm_planner", None, None)
    start = datetime.combine(MONDAY, time(9), MANILA).astimezone(UTC)
    spec = rosters.RosterSpec(
        name="Monday",
        first_date=MONDAY,
        days=1,
        requirement={start + k * rosters.QUARTER: 1 for k in range(32)},
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    return rosters.plan_roster(lambda: container.context(planner), spec, time_limit=3).id


@WIDTHS
def test_an_agent_asks_and_withdraws_and_the_planner_sees_it_granted(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    _agent_user(container, world, "xavi@provider.example")
    _agent_user(container, world, "yara@provider.example")  # who can cover Monday
    page = page_at(browser, server, width)
    sign_in(page, container, "xavi@provider.example")
    page.locator("nav a", has_text="My schedule").click()
    page.wait_for_url("**/console/me/schedule")
    assert "Asia/Manila" in page.locator("main .hint").first.inner_text()
    rows = page.locator("#my-shifts tbody tr")
    assert rows.count() == 14
    assert rows.first.inner_text().startswith("Wed 04 Mar")  # 23:00 there: still Wednesday
    thursday = rows.nth(1).locator("td")
    assert thursday.nth(0).inner_text() == "09:00\u201317:00"
    assert thursday.nth(1).inner_text() == "Weekly pattern"
    assert rows.nth(3).locator("td").first.inner_text() == "Off"  # Saturday
    assert page.locator("#no-requests").count() == 1
    fits(page)
    assert _problems(page) == []

    form = page.locator("#new-request")
    form.locator("#request-date").fill("2026-03-10")
    form.locator("#request-kind").select_option("shift_start")
    form.locator("button[type=submit]").click()
    error = page.locator("#request-start-error")
    error.wait_for()
    assert "names its start" in error.inner_text()
    assert form.locator("#request-start").get_attribute("aria-invalid") == "true"
    form.locator("#request-start").fill("10:30")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    form = page.locator("#new-request")
    form.locator("#request-date").fill("2026-03-09")
    form.locator("#request-note").fill("my sister's wedding")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    requests = page.locator("#my-requests tbody tr")
    assert requests.count() == 2
    assert requests.nth(0).inner_text().split("\t")[:3] == [
        "Mon 09 Mar 2026",
        "Day off\nmy sister's wedding",
        "Pending",
    ]
    assert "Start at 10:30" in requests.nth(1).inner_text()
    fits(page)
    assert _problems(page) == []
    with page.expect_navigation():
        requests.nth(1).get_by_role("button", name="Withdraw").click()
    withdrawn = page.locator("#my-requests tbody tr").nth(1)
    assert withdrawn.locator("td.status").inner_text() == "Withdrawn"
    assert withdrawn.get_by_role("button", name="Withdraw").count() == 0
    shot(page, "my-schedule")

    roster_id = _plan_monday(container, world)
    page.reload()
    status = page.locator("#my-requests tbody tr").first.locator("td.status")
    assert status.inner_text() == "Granted (draft roster)"

    planner = page_at(browser, server, width)
    sign_in(planner, container, "o@provider.example")
    planner.goto(f"/console/planning/rosters/{roster_id}")
    asked = planner.locator("#roster-requests tbody tr")
    assert asked.count() == 1
    assert asked.first.inner_text().split("\t") == ["Xavi", "Mon 09", "Day off", "Granted"]
    assert planner.locator("#requests-granted").inner_text() == "1 of 1 granted."
    fits(planner)
    assert _problems(planner) == []
    shot(planner, "roster-requests")
    page.context.close()
    planner.context.close()


def test_only_agents_have_a_schedule_page(page: Any, container: Container, world: World) -> None:
    sign_in(page, container, "o@provider.example")
    assert page.locator("nav a", has_text="My schedule").count() == 0
    answer = page.goto("/console/me/schedule")
    assert answer is not None and answer.status == 403
