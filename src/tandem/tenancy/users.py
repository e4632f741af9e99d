"""Managing named users and their roles; every change is an audit record.

A client admin manages the users of their own client, in client roles only; a provider admin
(provider:user:manage) manages anyone. Nobody changes their own role or deactivates
themselves, so no one can lock the last admin out by accident or raise their own rights.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER
from tandem.core import paging
from tandem.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tandem.tenancy.context import Context
from tandem.tenancy.models import ApiToken, ConsoleSession, User
from tandem.tenancy.permissions import CLIENT_ROLES, ROLES, Permission
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user
from tandem.tenancy.signin import end_sessions, set_password


def _visible(principal: Principal) -> ColumnElement[bool]:
    """Everyone for provider staff; a client's own users for a client's admin."""
    return true() if principal.client_id is None else User.client_id == principal.client_id


def list_users(ctx: Context, window: paging.Window) -> paging.Page[User]:
    """A page of the users the caller manages (their client's, or everyone's for provider
    staff), by email."""
    query = select(User).where(_visible(ctx.principal)).order_by(User.email, User.id)
    return paging.read(ctx.session, query, window)


def _known(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(
            "unknown role", errors=[{"field": "role", "message": f"one of {', '.join(ROLES)}"}]
        )


def _may_manage(principal: Principal, role: str, client_id: int | None) -> None:
    """Who may give a user `role`: a provider admin anyone; a client admin their client's
    users, in client roles; an API key never more than its own permissions (a key made to
    manage users must not mint users stronger than itself)."""
    if principal.scopes is not None and not ROLES[role] <= principal.scopes:
        beyond = sorted(p.value for p in ROLES[role] - principal.scopes)
        raise Forbidden(
            f"an API key gives no more than its own permissions; the role {role} also holds "
            + ", ".join(beyond)
        )
    if Permission.PROVIDER_USER_MANAGE in principal.permissions:
        return
    if role not in CLIENT_ROLES or client_id != principal.client_id:
        raise Forbidden("you manage the users of your own client, in client roles only")


def _managed(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = session.scalar(select(User).where(User.id == user_id, _visible(principal)))
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.id == principal.user_id:
        raise Conflict("you cannot change your own role or access; ask another admin")
    _may_manage(principal, user.role, user.client_id)
    return user


def add_user(
    ctx: Context,
    *,
    email: str,
    name: str,
    role: str,
    client_id: int | None,
    password: str | None,
) -> User:
    """A new named user; a client admin's users belong to the admin's client."""
    _known(role)
    principal = ctx.principal
    if principal.client_id is not None:
        client_id = client_id or principal.client_id
    _may_manage(principal, role, client_id)
    user = create_user(
        ctx.session, email=email, name=name, role=role, client_id=client_id, now=ctx.now
    )
    if password is not None:
        set_password(ctx.session, user, password)
    _trail(ctx, user, "user.create", role=role, email=user.email)
    return user


def change_role(ctx: Context, user_id: uuid.UUID, role: str) -> User:
    """Takes effect at the user's next request; audited with the role before and after."""
    _known(role)
    user = _managed(ctx.session, ctx.principal, user_id)
    if (role in CLIENT_ROLES) != (user.client_id is not None):
        raise InvalidInput(
            "a client's user keeps a client role, provider staff a provider role",
            errors=[{"field": "role", "message": f"does not fit this user: {role}"}],
        )
    _may_manage(ctx.principal, role, user.client_id)
    before, user.role = user.role, role
    end_sessions(ctx.session, user.id, now=ctx.now)  # what they may do changed: sign in again
    _trail(ctx, user, "user.role_change", before=before, after=role)
    return user


def deactivate(ctx: Context, user_id: uuid.UUID) -> User:
    """No more sign-in; console sessions and bearer tokens end at once."""
    session = ctx.session
    user = _managed(session, ctx.principal, user_id)
    user.active = False
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    _trail(ctx, user, "user.deactivate", role=user.role)
    return user


def _trail(ctx: Context, user: User, action: str, **data: object) -> None:
    audit.record_in(
        ctx,
        client_id=user.client_id if user.client_id is not None else PROVIDER,
        action=action,
        subject=f"user:{user.id}",
        data=dict(data),
    )
