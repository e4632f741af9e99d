"""Console sign-in: passwords (argon2id), sessions, and the guard against guessing.

Sign-in costs one argon2 verification whatever happens (unknown email, disabled user,
locked account, wrong or right password), so its time tells nothing about who exists.
Failures in a row make the account wait before it may try again: a few seconds after the
third, doubling, and the lockout after `sign_in_max_failures`. Every outcome is audited.
Use cases return what happened instead of raising, so the caller commits the failure
count before it answers 401.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.audit.models import PROVIDER
from tandem.core.config import Settings
from tandem.core.errors import Forbidden, InvalidInput, Unauthorized
from tandem.tenancy.context import Context
from tandem.tenancy.models import ConsoleSession, User
from tandem.tenancy.service import hash_token

MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()  # argon2id with the library's recommended cost
# Verified against when there is no real hash to check, so that every sign-in costs the same.
_STAND_IN = _HASHER.hash(secrets.token_urlsafe(24))
# Sessions are touched at most this often: a write per request would be a write per click.
_TOUCH_EVERY = timedelta(seconds=60)


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "the password is too short",
            errors=[{"field": "password", "message": f"at least {MIN_PASSWORD_LENGTH} characters"}],
        )
    user.password_hash = _HASHER.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.flush()


def change_password(
    ctx: Context, current: str, new: str, *, this_session: str | None = None
) -> None:
    """The caller changes their own password, the current one given. Every other console
    session of theirs ends (one opened with the old password elsewhere, by them or by
    whoever had it); `this_session`, the cookie of the request, goes on."""
    if ctx.principal.scopes is not None:
        raise Forbidden("an API key has no password")
    user = ctx.session.get_one(User, ctx.principal.user_id)
    if not verify_password(user, current):
        raise Unauthorized("the current password is wrong")
    set_password(ctx.session, user, new)
    end_sessions(ctx.session, user.id, now=ctx.now, keep=this_session)


def end_sessions(
    session: Session, user_id: uuid.UUID, *, now: datetime, keep: str | None = None
) -> int:
    """End the user's console sessions, but the one whose cookie is `keep`: after a password
    change or a change of role, what was signed in before signs in again."""
    query = update(ConsoleSession).where(
        ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(ConsoleSession.token_hash != hash_token(keep))
    return int(session.execute(query.values(ended_at=now)).rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: a session token, or why not."""

    token: str | None = None
    user: User | None = None
    retry_after_s: int | None = None  # the account is waiting (backoff or lockout)


def verify_password(user: User, password: str) -> bool:
    return _verify(user.password_hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _STAND_IN, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _wait_after(failures: int, settings: Settings) -> timedelta | None:
    if failures >= settings.sign_in_max_failures:
        return timedelta(minutes=settings.sign_in_lockout_minutes)
    if failures >= 3:
        return timedelta(seconds=2 ** (failures - 2))
    return None


def sign_in(
    session: Session, email: str, password: str, *, now: datetime, settings: Settings, key: bytes
) -> SignIn:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    right = _verify(user.password_hash if user else None, password)  # always, first
    chain = PROVIDER if user is None or user.client_id is None else user.client_id
    actor = f"user:{user.id}" if user else "anonymous"

    def trail(action: str, **data: object) -> None:
        audit.record(
            session,
            key,
            client_id=chain,
            actor=actor,
            action=action,
            subject=f"user:{user.id}" if user else f"email:{email.strip().lower()[:150]}",
            data=dict(data),
            now=now,
        )

    if user is None or not user.active:
        trail("sign_in.failed", reason="unknown or disabled")
        return SignIn()
    if user.locked_until is not None and user.locked_until > now:
        trail("sign_in.failed", reason="waiting")
        return SignIn(retry_after_s=max(1, int((user.locked_until - now).total_seconds())))
    if not right:
        user.failed_sign_ins += 1
        wait = _wait_after(user.failed_sign_ins, settings)
        user.locked_until = now + wait if wait else None
        if user.failed_sign_ins >= settings.sign_in_max_failures:
            user.failed_sign_ins = 0
            trail("sign_in.locked", minutes=settings.sign_in_lockout_minutes)
        else:
            trail("sign_in.failed", reason="wrong password", in_a_row=user.failed_sign_ins)
        return SignIn()
    if user.password_hash and _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    token = "tds_" + secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now
        )
    )
    trail("sign_in")
    session.flush()
    return SignIn(token=token, user=user)


def session_user(session: Session, token: str, *, now: datetime, idle: timedelta) -> User | None:
    """The user of a live session (seen within `idle`); touches it; None otherwise."""
    found = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.ended_at.is_(None))
    ).one_or_none()
    if found is None:
        return None
    console, user = found
    if console.last_seen_at <= now - idle or not user.active:
        console.ended_at = console.ended_at or now
        return None
    if now - console.last_seen_at >= _TOUCH_EVERY:
        console.last_seen_at = now
    return user


def sign_out(session: Session, token: str, *, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
