"""Creating clients, users, API tokens and client systems' API keys.

`create_client`, `create_user` and `issue_token` take a session and the time: the tests, the
demo and the benchmarks build their world with them, in transactions of their own."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.context import Context
from tandem.tenancy.models import ApiKey, ApiToken, Client, User
from tandem.tenancy.permissions import CLIENT_ROLES, ROLES


def list_clients(ctx: Context) -> Sequence[Client]:
    """The caller's own client, or every client for provider staff."""
    return ctx.session.scalars(
        select(Client).where(ctx.principal.client_condition(Client.id)).order_by(Client.code)
    ).all()


def create_client(
    session: Session,
    *,
    code: str,
    name: str,
    timezone: str,
    now: datetime,
    calendar: dict[str, Any] | None = None,
    currency: str = "USD",
    country: str | None = None,
) -> Client:
    """A new client. Its business calendar defaults to 09:00-17:00 Monday to Friday."""
    if country is not None and country.upper() not in holidays.list_supported_countries():
        raise InvalidInput(
            "unknown country",
            errors=[{"field": "country", "message": f"no public holidays known for {country!r}"}],
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "unknown time zone", errors=[{"field": "timezone", "message": f"unknown: {timezone!r}"}]
        ) from None
    try:
        calendar = BusinessCalendar.from_dict(
            calendar or BusinessCalendar.office_hours(timezone).to_dict()
        ).to_dict()
    except ValueError as exc:
        raise InvalidInput(
            "invalid calendar", errors=[{"field": "calendar", "message": str(exc)}]
        ) from None
    if session.scalar(select(Client.id).where(Client.code == code)):
        raise Conflict(f"a client with code {code!r} exists")
    client = Client(
        code=code,
        name=name,
        timezone=timezone,
        currency=currency,
        country=country.upper() if country else None,
        calendar=calendar,
        created_at=now,
    )
    session.add(client)
    session.flush()
    return client


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
    client_id: int | None = None,
) -> User:
    if role not in ROLES:
        raise InvalidInput(
            "unknown role", errors=[{"field": "role", "message": f"unknown: {role!r}"}]
        )
    if (role in CLIENT_ROLES) != (client_id is not None):
        raise InvalidInput(
            "client roles need a client and provider roles must not have one",
            errors=[{"field": "client_id", "message": f"does not fit role {role}"}],
        )
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email!r} exists")
    user = User(email=email, name=name, role=role, client_id=client_id, created_at=now)
    session.add(user)
    session.flush()
    return user


API_KEY_PREFIX = "tdk_"


def hash_token(token: str) -> str:
    """Tokens are 256-bit random, so a fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user_id: uuid.UUID, name: str, now: datetime, token: str | None = None
) -> str:
    """A new bearer token for the user. The token itself is returned once and never stored.
    (`token` lets the demo hand out memorable ones; real tokens are always random.)"""
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    token = token or "tdm_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, name=name, token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def create_api_key(
    ctx: Context, *, name: str, permissions: list[str], client_id: int | None = None
) -> tuple[ApiKey, str]:
    """A new key for a client system, with some of the client's permissions that the
    maker holds; audited. Returns the key row and the key itself, which is never stored."""
    session, principal = ctx.session, ctx.principal
    client = principal.client_id if principal.client_id is not None else client_id
    if client is None or session.get(Client, client) is None:
        raise InvalidInput(
            "an API key belongs to one client",
            errors=[{"field": "client_id", "message": "name an existing client"}],
        )
    if principal.client_id is not None and client_id not in (None, principal.client_id):
        raise NotFound(f"client {client_id} not found")
    held = {p.value for p in principal.permissions if p.value.startswith("client:")}
    errors = [
        {"field": f"permissions[{i}]", "message": f"{p!r} is not a client permission you hold"}
        for i, p in enumerate(permissions)
        if p not in held
    ]
    if not permissions:
        errors.append({"field": "permissions", "message": "give the key at least one"})
    if errors:
        raise InvalidInput("the key's permissions are not allowed", errors=errors)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        client_id=client,
        name=name,
        key_hash=hash_token(key),
        permissions=sorted(set(permissions)),
        created_by=principal.actor,
        created_at=ctx.now,
    )
    session.add(row)
    session.flush()
    _trail(ctx, row, "api_key.create")
    return row, key


KEY_USE_RECORDED = timedelta(minutes=5)


def record_key_use(session: Session, client_id: int, key_id: uuid.UUID, now: datetime) -> None:
    """Note that the key was used now, unless that was noted less than KEY_USE_RECORDED ago:
    a write at most every five minutes per key, not one per request (on SQLite every write
    takes the database's one write lock)."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.client_id == client_id,
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - KEY_USE_RECORDED),
        )
        .values(last_used_at=now)
    )


def api_keys(ctx: Context) -> Sequence[ApiKey]:
    """The keys of the caller's client (provider staff: every client's), revoked ones too."""
    return ctx.session.scalars(
        select(ApiKey)
        .where(ctx.principal.client_condition(ApiKey.client_id))
        .order_by(ApiKey.created_at)
    ).all()


def revoke_api_key(ctx: Context, key_id: uuid.UUID) -> ApiKey:
    """Revoked at once (again: it keeps the first time), audited."""
    key = ctx.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ctx.principal.client_condition(ApiKey.client_id))
    )
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    key.revoked_at = key.revoked_at or ctx.now
    _trail(ctx, key, "api_key.revoke")
    return key


def _trail(ctx: Context, key: ApiKey, action: str) -> None:
    """The key's record, on its client's chain."""
    audit.record_in(
        ctx,
        client_id=key.client_id,
        action=action,
        subject=f"api_key:{key.id}",
        data={"name": key.name, "permissions": key.permissions},
    )
