"""Adherence where people read it, in a real browser: the operations floor lists the agents
out of adherence now, and the planner's page shows a center's day per agent and half hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.tenancy.principal import Principal
from tandem.workforce import presence
from tandem.workforce.models import Agent, Shift
from tests.conftest import World
from tests.web.conftest import shoot, sign_in
from tests.web.phone import PHONE, WIDTHS, fits, page_at

IDLE = timedelta(minutes=30)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 4, hour, minute, tzinfo=UTC)


def _a_break_in_a_shift(container: Container, world: World, clock: ManualClock) -> None:
    """Scheduled 13:00-17:00 UTC (21:00-01:00 in Manila), available from 13:00 (through the
    API, with a token: no console session to lapse), on a break from 14:00 and still on it
    at 15:00 (the clock)."""
    with transaction(container.sessions) as session:
        session.get_one(Agent, world.agent_id).name = "Asha Rao"  # the world's two share one
        session.execute(delete(Shift).where(Shift.agent_id == world.agent_id))
        session.add(
            Shift(agent_id=world.agent_id, weekday=2, start_minute=21 * 60, duration_minutes=240)
        )
    container.dispatcher.forget_agent(world.agent_id)
    agent = Principal(world.agent_id, "agent", None, world.agent_id)
    clock.set(at(13))
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "available", means="api", idle=IDLE)
    clock.set(at(14))
    with container.context(agent) as ctx:
        presence.set_presence(ctx, "break", means="api", idle=IDLE)
    clock.set(at(15))


@WIDTHS
def test_the_floor_and_the_planner_see_who_is_out_of_adherence(
    browser: Any, server: str, container: Container, world: World, clock: ManualClock, width: int
) -> None:
    _a_break_in_a_shift(container, world, clock)
    page = page_at(browser, server, width)
    sign_in(page, container, "o@provider.example")
    page.goto("/console/operations")
    fits(page)
    row = page.locator("#out-of-adherence tbody tr", has_text="Asha Rao")
    cells = row.locator("td").all_inner_texts()
    assert cells[1:3] == ["MNL", "Break"] and cells[4] == "Not working", cells

    page.goto("/console/planning")
    page.click("a:has-text('adherence')")
    page.wait_for_load_state()
    fits(page)
    assert page.locator("#adherence-center").input_value() == "MNL"
    assert page.locator("#adherence-date").input_value() == "2026-03-04"  # Manila's day
    agent = page.locator("#adherence-agents tbody tr", has_text="Asha Rao")
    texts = agent.locator("td").all_inner_texts()
    # scheduled 21:00 Manila to 23:00 so far: an hour available, an hour on a break
    assert texts[0] == "50%", texts
    strip = agent.locator("td.in, td.out")
    assert strip.count() == 4
    assert [strip.nth(i).inner_text() for i in range(4)] == ["I", "I", "B", "B"]
    assert agent.locator("td.out").count() == 2
    shoot(page, "adherence-narrow" if width == PHONE else "adherence")

    page.fill("#adherence-date", "")
    page.goto("/console/planning/adherence?center=NOPE&date=04-03-2026")
    assert page.locator("#adherence-center-error").inner_text() == "not one of the choices"
    assert page.locator("#adherence-date-error").inner_text() == "not a date (YYYY-MM-DD)"
    page.context.close()


def test_agents_and_clients_see_no_one_s_adherence(
    page: Any, container: Container, world: World
) -> None:
    for email in ("a@provider.example", "c@insurer.example"):
        sign_in(page, container, email)
        answer = page.goto("/console/planning/adherence")
        assert answer is not None and answer.status == 403
        page.context.clear_cookies()
