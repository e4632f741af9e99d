"""Settings from the environment (prefix TANDEM_), validated once at start-up."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tandem.core.db import Budgets


class ConfigError(Exception):
    """A setting has a bad value; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_", extra="ignore")

    database_url: str = "sqlite:///./tandem.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Signs webhook payloads of clients that have not set their own secret, and seeds the demo.
    secret_key: str = Field(default="dev-insecure-change-me", min_length=16)
    lease_seconds: int = Field(default=300, ge=5, le=86400)
    # How long a request may wait for a pooled connection, a lock, one statement; how long a
    # transaction may sit idle (PostgreSQL; SQLite waits the lock budget for its one writer).
    # Past a budget the request answers 503 with Retry-After (tandem.core.db.Budgets).
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    db_lock_timeout_ms: int = Field(default=5_000, ge=100, le=600_000)
    db_statement_timeout_ms: int = Field(default=60_000, ge=100, le=86_400_000)
    db_idle_in_transaction_ms: int = Field(default=60_000, ge=1_000, le=86_400_000)
    # The bounds of the per-process caches of immutable facts (tandem.core.caching), scaled.
    cache_scale: float = Field(default=1.0, gt=0, le=100)
    at_risk_fraction: float = Field(default=0.75, gt=0, lt=1)
    at_risk_priority_boost: int = Field(default=10, ge=0)
    worker_interval_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhooks go to internet addresses only; these private networks are allowed besides,
    # for receivers on the provider's premises (comma-separated, e.g. "10.20.0.0/16").
    webhook_allowed_networks: str = ""
    # Console sign-in: sessions end after this long without a request; after `max` failed
    # sign-ins in a row an account is locked for `lockout` minutes (shorter waits before).
    session_idle_minutes: int = Field(default=30, ge=1, le=1440)
    sign_in_max_failures: int = Field(default=5, ge=1, le=100)
    sign_in_lockout_minutes: int = Field(default=15, ge=1, le=1440)
    # Rate limits ("N/second|minute|hour"): sign-in attempts per client address, requests
    # per API key; and where they are counted: "database" (shared by every process), a
    # `limits` storage URI such as redis://host:6379, or memory:// (one process only).
    rate_limit_sign_in: str = "10/minute"
    rate_limit_api_key: str = "1200/minute"
    # The service desk's public pages (a brand's contact form, a customer's conversation
    # link), per client address.
    rate_limit_public: str = "30/minute"
    rate_limit_storage: str = "database"
    # Session cookies only over HTTPS. Turn off for plain-HTTP local use (the demo does).
    cookie_secure: bool = True
    # Personal fields are encrypted at rest with keys derived from this (at least 32
    # characters; unset: derived from the secret key, fine for a demo, not for production).
    # To change it, put the old one in previous_master_keys (comma-separated) until
    # `tandem keys rotate` has re-encrypted everything (`tandem keys status`).
    master_key: str | None = Field(default=None, min_length=32)
    previous_master_keys: str = ""
    # Items done (delivered or cancelled) longer ago than a client's retention period have
    # their personal data purged by the worker: this often, at most purge_batch per pass.
    purge_interval_minutes: int = Field(default=60, ge=1, le=10_080)
    purge_batch: int = Field(default=1000, ge=1, le=100_000)
    # A client's rules run in worker processes under a budget per input: this long, at most
    # this much memory per worker; past it the input is referred (RULES_BUDGET). Workers: how
    # many per process (0: one per core). See tandem.decisions.engine.
    rules_budget_ms: int = Field(default=500, ge=10, le=60_000)
    rules_memory_mb: int = Field(default=1024, ge=256, le=65_536)
    rules_workers: int = Field(default=0, ge=0, le=256)
    # Documents handed over with items (PDF, TIFF, JPEG, PNG): at most this many bytes and
    # pages each, and pixels per image (or TIFF frame), checked by decoding them at intake
    # (tandem.documents.content); anything over is refused with the field or row named.
    document_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    document_max_pages: int = Field(default=500, ge=1, le=10_000)
    document_max_pixels: int = Field(default=60_000_000, ge=10_000, le=500_000_000)
    # Documents staged ahead of their items (POST /processes/{id}/documents, then named by id
    # in a file's document column or an item's document_id): kept this many hours for an
    # item to take them, then purged by the worker (with the retention purge, every
    # purge_interval_minutes); the bytes a client keeps staged at once are capped.
    staged_document_hours: int = Field(default=24, ge=1, le=24 * 30)
    staged_documents_max_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024 * 1024
    )
    # The service desk's SMTP server (tandem.servicedesk.smtp), started by `tandem serve` on
    # TANDEM_HOST at this port (0: not started). Messages over smtp_max_bytes are refused
    # (552); attachments over smtp_max_attachment_bytes are not kept (the message says so).
    # smtp_hostname names the server in its greeting and marks what it sends (X-Loop): mail
    # carrying it came back, and is refused as a loop, as is mail of over smtp_max_received
    # hops. smtp_authserv_id: the relay whose Authentication-Results are trusted (unset: any).
    smtp_port: int = Field(default=2525, ge=0, le=65535)
    smtp_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    smtp_max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    smtp_hostname: str = Field(default="tandem.localhost", min_length=1, max_length=253)
    smtp_max_received: int = Field(default=30, ge=5, le=200)
    smtp_authserv_id: str = ""
    # The relay the service desk's replies go out through (tandem.servicedesk.outgoing): host
    # (unset: mail stays queued, and each conversation shows it waiting), port, STARTTLS
    # (required when on: the password never crosses in clear), and AUTH when a user is set.
    # Mail the relay does not take is tried again with backoff up to mail_max_attempts.
    smtp_relay_host: str = ""
    smtp_relay_port: int = Field(default=587, ge=1, le=65535)
    smtp_relay_username: str = ""
    smtp_relay_password: str = ""
    smtp_relay_starttls: bool = True
    smtp_relay_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # The certificate authorities the relay's certificate is checked against (a PEM file);
    # unset: the system's.
    smtp_relay_ca_file: str = ""
    mail_max_attempts: int = Field(default=8, ge=1, le=50)
    # A customer's answer is leased first to the agent who last answered them (if they may
    # take it now) for this many minutes, then returns to the queue; 0: to the queue at once.
    desk_back_to_agent_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # DKIM: mail from a brand whose reply-from domain has a private key in dkim_keys_dir
    # (<domain>.pem) is signed with it under dkim_selector (its public key published at
    # <selector>._domainkey.<domain>); other mail goes unsigned.
    dkim_keys_dir: str = ""
    dkim_selector: str = Field(default="tandem", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    # A conversation solved asks its customer how we did (tandem.servicedesk.surveys): the
    # survey's link works this many days; links in mail start with public_url, the address
    # customers reach Tandem's public pages at (unset: http://TANDEM_HOST:TANDEM_PORT).
    survey_days: int = Field(default=14, ge=1, le=365)
    public_url: str = Field(default="", max_length=200, pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    # Logs (tandem.core.logs): the least level written, and json (one object a line, with
    # the request id, actor and client where known) or text, for a person at a terminal.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto `tandem serve` trusts
    # (comma-separated addresses or networks; uvicorn's forwarded_allow_ips). Never "*" when
    # clients can reach the server directly: they could then pick their own address.
    forwarded_allow_ips: str = Field(default="127.0.0.1", min_length=1)

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def budgets(self) -> Budgets:
        return Budgets(
            pool_timeout_s=self.db_pool_timeout_seconds,
            lock_timeout_ms=self.db_lock_timeout_ms,
            statement_timeout_ms=self.db_statement_timeout_ms,
            idle_in_transaction_ms=self.db_idle_in_transaction_ms,
        )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(
                f"must start with sqlite:/// (embedded) or postgresql:// (server), got {value!r}"
            )
        return value

    @field_validator("rate_limit_sign_in", "rate_limit_api_key", "rate_limit_public")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"a rate such as 10/minute, got {value!r}") from None
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            try:
                if part:
                    ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"networks such as 10.20.0.0/16, got {part!r}") from None
        return value

    @field_validator("previous_master_keys")
    @classmethod
    def _previous_keys(cls, value: str) -> str:
        if any(len(key.strip()) < 32 for key in value.split(",") if key.strip()):
            raise ValueError("each previous master key has at least 32 characters")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def master_keys(self) -> tuple[str, list[str]]:
        """(the master key that seals, the previous ones that still open)."""
        current = self.master_key or "tandem master key from the secret:" + self.secret_key
        return current, [key.strip() for key in self.previous_master_keys.split(",") if key.strip()]

    @property
    def sqlalchemy_url(self) -> str:
        """Database URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
        if self.database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises ConfigError naming the TANDEM_ variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"TANDEM_{field.upper()}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
