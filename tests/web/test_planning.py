"""The planner's pages in a real browser, at a desktop's width and a phone's: a process's
forecast against what arrived today, the people it needs per interval, and a what-if; the
what-if's refusals named beside their fields; who may open them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tandem.container import Container
from tests.conftest import World
from tests.web.conftest import shoot, sign_in
from tests.web.phone import PHONE, WIDTHS, fits, page_at
from tests.workforce.history import seed_history


def _hours(page: Any, column: int) -> list[float]:
    cells = page.locator("#days tbody tr").evaluate_all(
        f"rows => rows.map(r => r.cells[{column}].innerText)"
    )
    return [float(text.replace(",", "")) for text in cells]


@WIDTHS
def test_a_planner_sees_the_forecast_and_asks_what_if(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    seed_history(container, world)
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")
    page.goto("/console/planning")
    fits(page)
    page.get_by_role("link", name="Keying").first.click()
    page.wait_for_load_state()
    assert re.search(r"/console/planning/processes/[0-9a-f-]+$", page.url)
    fits(page)
    page.select_option("#whatif-weeks", "4")  # the history seeded
    page.click("button:has-text('Show the staff needed')")

    model = page.locator("#model").inner_text()
    assert "America/New_York" in model
    assert "Weekly profile: WAPE 0.0%" in model  # the pattern repeats exactly
    # 15 arrived in each of today's two half-hours over, 10 forecast: the rest is 1.5 times
    assert "150% of the forecast" in page.locator("#today-factor").inner_text()
    chart = page.locator("#forecast-chart svg").first
    assert chart.get_attribute("aria-label", timeout=1000).startswith("Today's arrivals")
    legend = page.locator("#forecast-chart .legend li").all_inner_texts()
    assert legend == ["Forecast", "Arrived", "Reforecast"]

    rows = page.locator("#days tbody tr")
    assert rows.count() == 7
    own = _hours(page, 2)
    # Thursday: 60 items of 300 s each = 5 hours of work, before occupancy and shrinkage
    assert rows.nth(1).locator("td").nth(1).inner_text() == "60"
    assert own[1] >= 5 / 0.85 / 0.7

    page.fill("#whatif-volume", "200")
    page.click("button:has-text('Show the staff needed')")
    page.wait_for_load_state()
    assert "volume=200" in page.url
    fits(page)
    assert page.locator("#days-title").inner_text().endswith("what if")
    doubled = _hours(page, 2)
    assert _hours(page, 3) == own  # the process's own figures beside the what-if
    assert doubled[1] > own[1]
    assert page.locator("#staff-chart .legend li").all_inner_texts() == [
        "The process's own figures",
        "What if",
    ]
    assert page.locator("#whatif-volume").input_value() == "200"
    if width == PHONE:
        shoot(page, "planning-narrow")
    else:
        shoot(page, "planning")

    page.fill("#whatif-volume", "lots")
    page.fill("#whatif-occupancy", "101")
    page.click("button:has-text('Show the staff needed')")
    assert page.locator("#whatif-volume-error").inner_text() == "not a number"
    assert page.locator("#whatif-occupancy-error").inner_text() == "must be 10 to 100"
    assert page.locator("#whatif-volume").get_attribute("aria-invalid") == "true"
    page.context.close()


def test_without_handle_times_the_page_asks_for_one(
    page: Any, container: Container, world: World
) -> None:
    sign_in(page, container, "o@provider.example")
    page.goto(f"/console/planning/processes/{world.process_id}")
    assert "no handle time measured" in page.locator("#staff-problem").inner_text()
    page.fill("#whatif-aht", "120")
    page.click("button:has-text('Show the staff needed')")
    assert page.locator("#staff-problem").count() == 0
    assert page.locator("#days tbody tr").count() == 7


@pytest.mark.parametrize("email", ["c@insurer.example", "a@provider.example"])
def test_only_the_workforce_s_readers_plan(
    page: Any, container: Container, world: World, email: str
) -> None:
    sign_in(page, container, email)
    assert page.locator("nav a", has_text="Planning").count() == 0
    answer = page.goto(f"/console/planning/processes/{world.process_id}")
    assert answer is not None and answer.status == 403


@WIDTHS
def test_a_planner_plans_a_roster_reads_its_heat_map_and_publishes_it(
    browser: Any, server: str, container: Container, world: World, width: int
) -> None:
    """From the forecast, through the page's form (the API underneath): the draft's heat map
    of required against scheduled, each agent's shifts, then publishing it."""
    seed_history(container, world)
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")
    page.goto("/console/planning")
    assert page.locator("#rosters").count() == 0
    form = page.locator("#plan-roster")
    form.locator("#plan-name").fill("Week 11")
    assert form.locator("#plan-first").input_value() == "2026-03-09"  # the next Monday
    form.locator("#plan-days").fill("2")
    form.locator("#plan-limit").fill("3")
    fits(page)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/console/planning/rosters/[0-9a-f-]+$"), timeout=60_000)
    page.wait_for_load_state()
    fits(page)
    assert page.locator("h1").inner_text().startswith("Week 11")
    assert page.locator("#roster-state").inner_text() == "Draft"
    facts = page.locator("#roster-facts").inner_text()
    assert "Manila: USD" in facts  # each center's cost in its own currency
    # Monday 09:00-12:00 in New York is when the work arrives; the viewer reads UTC: 13:00-16:00
    monday = page.locator("#heat-all tbody tr", has_text="Mon 09 Mar")
    cells = monday.locator("td")
    assert cells.count() == 24
    levels = [cells.nth(h).get_attribute("class") for h in (13, 14, 15)]
    assert all(level in ("short", "met", "over") for level in levels), levels
    assert page.locator("#roster-agents tbody tr").count() >= 1
    shifts = page.locator("#roster-agents td.shift")
    assert shifts.count() >= 1
    assert re.fullmatch(r"\d\d:\d\d\u2013\d\d:\d\d( \+1)?", shifts.first.inner_text())
    with page.expect_download() as download:
        page.click("a:has-text('Excel')")
    assert download.value.suggested_filename.endswith(".xlsx")
    shoot(page, "planning-roster-narrow" if width == PHONE else "planning-roster")

    with page.expect_navigation():  # the page reloads once published
        page.click("#publish")
    assert page.locator("#roster-state").inner_text() == "Published"
    assert page.locator("#publish").count() == 0
    page.goto("/console/planning")
    assert page.locator("#rosters tbody tr").first.inner_text().count("Published") == 1
    page.context.close()


def test_a_plan_refused_names_the_field(page: Any, container: Container, world: World) -> None:
    sign_in(page, container, "o@provider.example")
    page.goto("/console/planning")
    page.fill("#plan-first", "2026-03-10")  # a Tuesday
    page.click("#plan-roster button[type=submit]")
    error = page.locator("#plan-first-error")
    error.wait_for()
    assert "Monday" in error.inner_text()
    assert page.locator("#plan-first").get_attribute("aria-invalid") == "true"
