"""A process's forecast through the real database and the real HTTP server: arrivals seeded
over four weeks with a known pattern in the client's time zone, handle times from claim and
submit events, channels of a conversation process, scoping and refusals."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.cli import app
from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput, NotFound
from tandem.reports import forecasting
from tandem.tenancy.models import Client
from tandem.tenancy.principal import SYSTEM
from tandem.work import transitions
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, World
from tests.workforce.history import PER_INTERVAL, TODAY, local, row, seed_history


@pytest.fixture
def seeded(container: Container, world: World) -> World:
    return seed_history(container, world)


def test_the_api_forecasts_each_interval_from_the_known_pattern(seeded: World, api: Any) -> None:
    answer = api("ops").get(
        f"/api/v1/processes/{seeded.process_id}/forecast",
        params={"interval_minutes": 30, "weeks": 4, "days": 7},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "America/New_York"
    assert body["model"] in ("profile", "holt_winters")
    assert {s["model"] for s in body["scores"]} == {"profile", "holt_winters"}
    profile = next(s for s in body["scores"] if s["model"] == "profile")
    assert profile["wape"] == pytest.approx(0.0, abs=1e-9)  # the pattern repeats exactly
    assert len(body["intervals"]) == 7 * 48
    by_start = {i["start"]: i for i in body["intervals"]}

    # tomorrow, a Thursday: 10 per half-hour from 09:00 to 12:00, nothing else
    thursday = [i for i in body["intervals"] if i["start"].startswith("2026-03-05")]
    assert thursday[18]["start"] == "2026-03-05T09:00:00-05:00"
    assert [round(i["arrivals"], 3) for i in thursday[18:24]] == [PER_INTERVAL] * 6
    assert sum(i["arrivals"] for i in thursday) == pytest.approx(60, abs=0.01)
    # Monday, after the clocks went forward on Sunday: still 09:00 local
    assert by_start["2026-03-09T09:00:00-04:00"]["arrivals"] == pytest.approx(PER_INTERVAL)

    # today: the two half-hours over are the actuals (15 each), the rest 1.5 times the plan
    assert body["today_elapsed"] == 20  # 10:00 in New York
    assert body["today_factor"] == pytest.approx(1.5)
    today = [i for i in body["intervals"] if i["start"].startswith("2026-03-04")]
    assert [i["arrivals"] for i in today[18:22]] == pytest.approx([15, 15, 15, 15])
    assert body["days"][0] == {"date": "2026-03-04", "arrivals": pytest.approx(90)}

    # handle times: 300 s for the 8 handled at 10:00 on Tuesdays, the overall mean elsewhere
    assert body["handled"] == 8
    assert body["handle_seconds"] == pytest.approx(300)
    assert by_start["2026-03-10T10:00:00-04:00"]["handle_seconds"] == pytest.approx(300)
    assert body["channels"] == []


def test_clients_are_refused_and_another_clients_process_is_not_found(
    seeded: World, api: Any, container: Container
) -> None:
    path = f"/api/v1/processes/{seeded.process_id}/forecast"
    assert api("client").get(path, params={"weeks": 4}).status_code == 403
    assert api("agent").get(path, params={"weeks": 4}).status_code == 403
    missing = api("ops").get(f"/api/v1/processes/{uuid.uuid4()}/forecast")
    assert missing.status_code == 404
    # a client's principal (with the permission) still sees only its own processes
    with pytest.raises(NotFound), container.context(seeded.other_client_user) as ctx:
        forecasting.process_forecast(ctx, seeded.process_id, weeks=4)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval_minutes": 20}, "interval_minutes"),
        ({"weeks": 2}, "weeks"),
        ({"weeks": 99}, "weeks"),
        ({"weeks": 4, "days": 0}, "days"),
        ({"weeks": 4, "days": -2146232}, "days"),  # a 500 before: no date that far back
        ({"weeks": 4, "days": 36}, "days"),
        ({"weeks": 4, "country": "ZZ"}, "country"),
    ],
)
def test_bad_parameters_are_named(
    seeded: World, api: Any, params: dict[str, Any], field: str
) -> None:
    answer = api("ops").get(f"/api/v1/processes/{seeded.process_id}/forecast", params=params)
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_a_countrys_holidays_and_a_conversation_process_per_channel(
    container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        desk = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="desk",
                name="Desk",
                kind="conversation",
                input_schema=INPUT_SCHEMA,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 1},
                sla_minutes=240,
                sla_mode="business_hours",
            ),
            now=container.clock.now(),
        )
        rows = []
        for back in range(1, 29):
            day = TODAY - timedelta(days=back)
            at = local(day, 14, 10)
            rows += [row(desk, at, payload={"channel": "email"}) for _ in range(3)]
            rows += [row(desk, at, payload={"channel": "web"}) for _ in range(1)]
        transitions.arrive(session, rows, actor="test")
        desk_id = desk.id
    with container.context(SYSTEM) as ctx:
        found = forecasting.process_forecast(ctx, desk_id, weeks=4, days=3, country="US")
    assert [c.channel for c in found.channels] == ["all", "email", "web"]
    totals = {c.channel: c.forecast.day_totals() for c in found.channels}
    assert totals["all"][1] == pytest.approx(4)  # tomorrow
    assert totals["email"][1] == pytest.approx(3)
    assert totals["web"][1] == pytest.approx(1)
    assert found.handle_times.overall_seconds is None
    # Washington's Birthday (16 February 2026) was a US holiday with its normal arrivals
    assert found.main.forecast.holiday_factor == pytest.approx(1.0)


def test_the_cli_prints_the_model_and_the_series(seeded: World, database_url: str) -> None:
    """On the real clock: the seeded weeks may lie in the past; the command still answers."""
    result = CliRunner().invoke(
        app,
        ["wfm", "forecast", str(seeded.process_id), "--weeks", "4", "--days", "2", "--json"],
        env={"TANDEM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert "model:" in result.output and "WAPE" in result.output
    last = result.output.strip().splitlines()[-1]
    assert '"intervals"' in last


def test_too_little_history_is_named(container: Container, world: World) -> None:
    with pytest.raises(InvalidInput) as refused, container.context(SYSTEM) as ctx:
        forecasting.process_forecast(ctx, world.process_id, weeks=2)
    assert refused.value.extra["errors"][0]["field"] == "weeks"


def test_the_clients_country_sets_its_public_holidays_apart(
    container: Container, world: World
) -> None:
    seed_history(container, world)
    with container.context(SYSTEM) as ctx:
        without = forecasting.process_forecast(ctx, world.process_id, weeks=4, days=3)
    with transaction(container.sessions) as session:
        session.get_one(Client, world.client_id).country = "US"
    with container.context(SYSTEM) as ctx:
        found = forecasting.process_forecast(ctx, world.process_id, weeks=4, days=3)
    # Washington's Birthday (Monday 16 February 2026) is in the weeks learnt from: set
    # apart once the client's country is known, with its own factor
    assert without.main.forecast.holiday_factor is None
    assert found.main.forecast.holiday_factor is not None


def test_a_process_younger_than_the_weeks_asked_learns_from_its_own(
    seeded: World, container: Container
) -> None:
    """Four weeks of history, eight asked: the four empty weeks before the process's first
    arrival are not taken for quiet ones."""
    with container.context(SYSTEM) as ctx:
        found = forecasting.process_forecast(ctx, seeded.process_id, weeks=8, days=2)
    assert found.weeks == 4
    assert found.history_from == TODAY - timedelta(weeks=4)
    profile = next(s for s in found.main.forecast.scores if s.model == "profile")
    assert profile.wape == pytest.approx(0.0, abs=1e-9)
    thursday = found.main.forecast.counts[found.main.forecast.per_day :]
    assert sum(thursday) == pytest.approx(60, abs=0.01)
