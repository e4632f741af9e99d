"""Which time zone a person's times are shown in: their own choice, else their client's
(client people), else their delivery center's (agents), else UTC."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.core.errors import InvalidInput
from tandem.tenancy.models import Client, User
from tandem.tenancy.principal import Principal
from tandem.workforce.models import Agent, DeliveryCenter

UTC_ZONE = ZoneInfo("UTC")


def zone_of(session: Session, principal: Principal) -> ZoneInfo:
    """The zone the person's times are shown in: one read."""
    chosen, *defaults = _names(session, principal)
    return _first(chosen, *defaults)


def default_zone(session: Session, principal: Principal) -> ZoneInfo:
    """The zone the person's times are shown in when they choose none."""
    _, *defaults = _names(session, principal)
    return _first(*defaults)


def _names(session: Session, principal: Principal) -> tuple[str | None, ...]:
    """The person's own zone, their client's, and their delivery center's."""
    row = session.execute(
        select(User.time_zone, Client.timezone, DeliveryCenter.timezone)
        .select_from(User)
        .outerjoin(Client, Client.id == User.client_id)
        .outerjoin(Agent, Agent.user_id == User.id)
        .outerjoin(DeliveryCenter, DeliveryCenter.code == Agent.center_code)
        .where(User.id == principal.user_id)
    ).one_or_none()
    return tuple(row) if row is not None else (None, None, None)


def _first(*names: str | None) -> ZoneInfo:
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # a zone this machine's tz database lacks: the next one
    return UTC_ZONE


def known_zones() -> list[str]:
    """The zones a person may choose, by name."""
    return sorted(available_timezones())


def set_time_zone(session: Session, principal: Principal, name: str | None) -> None:
    """Choose the zone one's times are shown in (None: the default); InvalidInput naming
    `time_zone` for a zone that is not one."""
    if name is not None and name not in available_timezones():
        raise InvalidInput(
            "unknown time zone",
            errors=[
                {"field": "time_zone", "message": f"not a time zone: {name!r}, e.g. Asia/Manila"}
            ],
        )
    user = session.get(User, principal.user_id)
    if user is None:  # an API key: it has no console to show times in
        raise InvalidInput(
            "only people choose a time zone",
            errors=[{"field": "time_zone", "message": "an API key has no time zone"}],
        )
    user.time_zone = name
