from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id


class Client(Base):
    """A client company that outsources processes to the provider: the tenant."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # Its prices and costs are in this currency (ISO 4217).
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    # Its country (ISO 3166-1 alpha-2): whose public holidays its forecasts set apart.
    country: Mapped[str | None] = mapped_column(String(2))
    # BusinessCalendar.to_dict(): working hours in the client's time zone and its holidays.
    calendar: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Which of the client's keys seals personal data now (tandem.vault.sealing); raised by
    # a key rotation.
    key_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Personal data of items done longer ago than this is purged (None: kept).
    retention_days: Mapped[int | None]
    # The contract ended: the client's data was exported and purged (tandem client exit).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A named person or system. Client users carry their client; provider staff carry none."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Console sign-in (tandem.tenancy.signin): an argon2id hash, never the password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time zone the console shows this person's times in; None: their client's, their
    # delivery center's, or UTC (tandem.workforce.zones).
    time_zone: Mapped[str | None] = mapped_column(String(64))


class ConsoleSession(Base):
    """A signed-in browser. Only the SHA-256 of its cookie is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token of one user. Only its SHA-256 is stored: tokens are 256-bit random."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_tokens_user_active", "user_id", "revoked_at"),)


class ApiKey(Base):
    """A client system's key: one client, a chosen set of that client's permissions. Only
    its SHA-256 is stored; the key is shown once, when it is made."""

    __tablename__ = "api_keys"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the key was last used, to within tandem.tenancy.service.KEY_USE_RECORDED (written
    # at most that often, not at each request).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
