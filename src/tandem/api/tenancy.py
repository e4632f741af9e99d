"""Signing in and out of the console, who am I, the provider's list of clients, users and
their roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tandem.core import paging
from tandem.core.db import transaction
from tandem.core.errors import Unauthorized
from tandem.http import (
    MAX_INT,
    SESSION_COOKIE,
    Paging,
    Services,
    current_principal,
    paged,
    paged_responses,
    public,
    uses,
)
from tandem.tenancy import service, signin, users
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client, User
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.workforce import presence, zones
from tandem.workforce.models import Agent

router = APIRouter(prefix="/api/v1", tags=["tenancy"])

# Anyone known may ask who they are, sign out or change their own password: no permission.
Caller = Annotated[Principal, Depends(current_principal)]
ClientReading = Annotated[Context, uses(Permission.CLIENT_READ)]
ClientManaging = Annotated[Context, uses(Permission.CLIENT_MANAGE)]
KeyManaging = Annotated[Context, uses(Permission.API_KEY_MANAGE)]
UserManaging = Annotated[Context, uses(Permission.CLIENT_USER_MANAGE)]


class MeOut(BaseModel):
    user_id: uuid.UUID
    role: str
    client_id: int | None
    agent_id: uuid.UUID | None
    permissions: list[str]


class ClientIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217: the currency of the client's prices and costs",
    )
    calendar: dict[str, Any] | None = Field(
        default=None, description="Business calendar; default 09:00-17:00 Monday-Friday"
    )
    country: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166-1 alpha-2: whose public holidays the client's forecasts set apart",
    )


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    timezone: str
    currency: str
    country: str | None
    calendar: dict[str, Any]
    created_at: datetime


@router.get("/me", response_model=MeOut)
def me(principal: Caller) -> MeOut:
    """The caller and what they may do. Any valid token may ask."""
    return _me(principal)


class SignInIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


def _me(principal: Principal) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        role=principal.role,
        client_id=principal.client_id,
        agent_id=principal.agent_id,
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.post("/auth/sign-in", response_model=MeOut)
def sign_in(
    body: SignInIn,
    request: Request,
    response: Response,
    services: Services,
    _: Annotated[None, Depends(public("signing in is how one becomes known"))],
) -> MeOut:
    """Sign in to the console: sets the session cookie. Every failure answers the same 401
    (wrong password, unknown email, an account waiting after failed attempts), in the same
    time; the audit trail records which."""
    # Its own transaction: there is no caller yet, and a failure's count commits before the 401.
    settings = services.settings
    services.rate_limits.hit("sign_in", request.client.host if request.client else "unknown")
    with transaction(services.sessions) as session:
        outcome = signin.sign_in(
            session,
            body.email,
            body.password,
            now=services.clock.now(),
            settings=settings,
            key=services.audit_key,
        )
        user = outcome.user
        agent_id = (
            session.scalar(select(Agent.id).where(Agent.user_id == user.id)) if user else None
        )
        if outcome.token is not None:
            presence.signed_in(session, agent_id, services.clock.now())
    if outcome.token is None or user is None:
        raise Unauthorized("the email or password is wrong, or the account must wait a while")
    if agent_id is not None:  # available again: the dispatcher reads the presence afresh
        services.dispatcher.forget_agent(agent_id)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        max_age=settings.session_idle_minutes * 60 * 48,  # the server ends idle sessions
    )
    return _me(Principal(user.id, user.role, user.client_id, agent_id))


@router.post("/auth/sign-out", status_code=204)
def sign_out(request: Request, response: Response, principal: Caller, services: Services) -> None:
    """End this console session (a bearer token is revoked elsewhere)."""
    # Its own transaction: it ends the session its cookie names, and needs no permission.
    if cookie := request.cookies.get(SESSION_COOKIE):
        with transaction(services.sessions) as session:
            presence.signing_out(session, cookie, services.clock.now())
            signin.sign_out(session, cookie, now=services.clock.now())
    response.delete_cookie(SESSION_COOKIE)


class TimeZoneIn(BaseModel):
    time_zone: str | None = Field(
        max_length=64, description="An IANA zone such as Asia/Manila; null: the default"
    )


@router.put("/me/time-zone", status_code=204)
def set_time_zone(body: TimeZoneIn, principal: Caller, services: Services) -> None:
    """Choose the time zone the console shows your times in (null: your client's, your
    delivery center's, or UTC)."""
    with services.context(principal) as ctx:
        zones.set_time_zone(ctx.session, principal, body.time_zone)


@router.put("/me/password", status_code=204)
def change_password(
    body: PasswordIn, principal: Caller, services: Services, request: Request
) -> None:
    """Change your own password; the current one is asked for. Your other console sessions
    end; this one goes on."""
    this_session = request.cookies.get(SESSION_COOKIE)
    with services.context(principal) as ctx:
        signin.change_password(
            ctx, body.current_password, body.new_password, this_session=this_session
        )


@router.get("/clients", response_model=list[ClientOut], responses=paged_responses("clients"))
def list_clients(
    ctx: ClientReading, request: Request, response: Response, window: Paging
) -> list[Client]:
    return paged(request, response, paging.cut(service.list_clients(ctx), window), window)


@router.post("/clients", response_model=ClientOut, status_code=201)
def create_client(body: ClientIn, ctx: ClientManaging) -> Client:
    return service.create_client(ctx.session, now=ctx.now, **body.model_dump())


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    permissions: list[str] = Field(
        description="Client permissions you hold, e.g. client:work_item:create"
    )
    client_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="Provider staff only: whose key"
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    name: str
    permissions: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="to within five minutes; None: never used")


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="Shown this once: only its hash is kept")


@router.post("/api-keys", response_model=NewApiKeyOut, status_code=201)
def create_api_key(body: ApiKeyIn, ctx: KeyManaging) -> NewApiKeyOut:
    """A key for a client system, with some of the client's permissions."""
    row, key = service.create_api_key(
        ctx, name=body.name, permissions=body.permissions, client_id=body.client_id
    )
    return NewApiKeyOut(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=paged_responses("API keys"))
def list_api_keys(
    ctx: KeyManaging, request: Request, response: Response, window: Paging
) -> list[ApiKeyOut]:
    found = paging.cut(service.api_keys(ctx), window)
    return [ApiKeyOut.model_validate(row) for row in paged(request, response, found, window)]


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: uuid.UUID, ctx: KeyManaging) -> ApiKeyOut:
    """Revoked at once: the next request with it gets 401."""
    return ApiKeyOut.model_validate(service.revoke_api_key(ctx, key_id))


# -- users and roles -------------------------------------------------------------------------


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(description="A role name, e.g. client_user, agent, qa_reviewer")
    client_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="For client roles (a client admin's own)"
    )
    password: str | None = Field(
        default=None, max_length=1000, description="To sign in to the console (12+ characters)"
    )


class RoleIn(BaseModel):
    role: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: str
    client_id: int | None
    active: bool
    created_at: datetime


@router.get("/users", response_model=list[UserOut], responses=paged_responses("users"))
def list_users(
    ctx: UserManaging, request: Request, response: Response, window: Paging
) -> list[User]:
    """The users you manage: your client's, or everyone's for a provider admin."""
    return paged(request, response, users.list_users(ctx, window), window)


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, ctx: UserManaging) -> User:
    return users.add_user(
        ctx,
        email=body.email,
        name=body.name,
        role=body.role,
        client_id=body.client_id,
        password=body.password,
    )


@router.put("/users/{user_id}/role", response_model=UserOut)
def change_role(user_id: uuid.UUID, body: RoleIn, ctx: UserManaging) -> User:
    """Takes effect at the user's next request; audited with the role before and after."""
    return users.change_role(ctx, user_id, body.role)


@router.delete("/users/{user_id}", response_model=UserOut)
def deactivate_user(user_id: uuid.UUID, ctx: UserManaging) -> User:
    """No more sign-in; the user's sessions and tokens end at once. Kept for the record."""
    return users.deactivate(ctx, user_id)
