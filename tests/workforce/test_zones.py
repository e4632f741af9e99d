"""Whose time zone a person's times are shown in: their own choice, else their client's,
else their delivery center's, else UTC; a zone that is not one is refused, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.core.errors import InvalidInput
from tandem.tenancy.models import User
from tandem.tenancy.principal import Principal
from tandem.workforce.zones import default_zone, set_time_zone, zone_of
from tests.conftest import World


def _zone(container: Container, principal: Principal) -> str:
    with transaction(container.sessions) as session:
        return zone_of(session, principal).key


def _person(container: Container, email: str) -> Principal:
    """Whom zone_of reads: the user (an agent's center through the user's agent profile)."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return Principal(user.id, user.role, user.client_id, None)


def test_a_persons_zone_is_theirs_else_their_clients_else_their_centers_else_utc(
    container: Container, world: World
) -> None:
    assert _zone(container, world.client_user) == "America/New_York"  # the insurer's
    assert _zone(container, world.other_client_user) == "Europe/London"  # the retailer's
    assert _zone(container, _person(container, "a@provider.example")) == "Asia/Manila"  # MNL
    assert _zone(container, _person(container, "o@provider.example")) == "UTC"  # no center
    with transaction(container.sessions) as session:
        set_time_zone(session, world.client_user, "Asia/Tokyo")
    assert _zone(container, world.client_user) == "Asia/Tokyo"
    with transaction(container.sessions) as session:
        assert default_zone(session, world.client_user).key == "America/New_York"
        set_time_zone(session, world.client_user, None)
    assert _zone(container, world.client_user) == "America/New_York"


def test_a_zone_that_is_not_one_is_refused_naming_the_field(
    container: Container, world: World
) -> None:
    with transaction(container.sessions) as session, pytest.raises(InvalidInput) as refused:
        set_time_zone(session, world.client_user, "Mars/Olympus_Mons")
    assert refused.value.extra["errors"][0]["field"] == "time_zone"


def test_the_api_sets_ones_own_zone_and_names_a_wrong_one(api: Any, world: World) -> None:
    wrong = api("client").put("/api/v1/me/time-zone", json={"time_zone": "Nowhere/Here"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "time_zone"
    assert (
        api("client").put("/api/v1/me/time-zone", json={"time_zone": "Asia/Tokyo"}).status_code
        == 204
    )
    assert api("anonymous").put("/api/v1/me/time-zone", json={"time_zone": None}).status_code == 401
