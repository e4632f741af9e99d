"""`tandem check --deploy`: what is wrong with a production deployment, each problem named
with its fix. The settings are judged as they are (`settings_findings`); the database is
asked a few facts (`probe`: its role, schema revision, the worker's heartbeat, its clock),
which are judged apart (`database_findings`), so that both halves are plain functions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tandem.core import heartbeat
from tandem.core.config import Settings
from tandem.core.db import make_engine
from tandem.core.migrate import alembic_config

Severity = Literal["error", "warning"]

DEFAULT_SECRET_KEY = Settings.model_fields["secret_key"].default
KEY_BYTES = 32  # at least this long: a secret or master key of 256 bits' worth of text
MAX_SKEW_SECONDS = 2.0
NEW_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def error(id_: str, message: str, fix: str) -> Finding:
    return Finding(id_, "error", message, fix)


def warning(id_: str, message: str, fix: str) -> Finding:
    return Finding(id_, "warning", message, fix)


# The settings, as they are.


def secret_key(settings: Settings) -> list[Finding]:
    value = settings.secret_key
    why = (
        "choose it before real data arrives: the audit trail's seals, and the signatures of "
        "webhooks of clients without a secret of their own, are keyed by it"
    )
    if value == DEFAULT_SECRET_KEY:
        return [
            error(
                "secret_key_default",
                "TANDEM_SECRET_KEY is the default, published in the source",
                f"set TANDEM_SECRET_KEY to a random value (`{NEW_KEY}`); {why}",
            )
        ]
    if len(value.encode()) < KEY_BYTES:
        return [
            error(
                "secret_key_short",
                f"TANDEM_SECRET_KEY has {len(value.encode())} bytes, fewer than {KEY_BYTES}",
                f"set TANDEM_SECRET_KEY to a random value of {KEY_BYTES} bytes or more "
                f"(`{NEW_KEY}`); {why}",
            )
        ]
    return []


def master_key(settings: Settings) -> list[Finding]:
    value = settings.master_key
    if value is None:
        return [
            error(
                "master_key_unset",
                "TANDEM_MASTER_KEY is unset: personal data is sealed with a key derived from "
                "TANDEM_SECRET_KEY",
                f"set TANDEM_MASTER_KEY to a random value (`{NEW_KEY}`); if personal data is "
                "already stored, set TANDEM_PREVIOUS_MASTER_KEYS to 'tandem master key from the "
                "secret:' followed by the secret key, then run `tandem keys rotate`",
            )
        ]
    if len(value.encode()) < KEY_BYTES or value == settings.secret_key:
        return [
            error(
                "master_key_weak",
                "TANDEM_MASTER_KEY is shorter than 32 bytes or equal to TANDEM_SECRET_KEY",
                f"set a new random TANDEM_MASTER_KEY (`{NEW_KEY}`), the old one in "
                "TANDEM_PREVIOUS_MASTER_KEYS, then run `tandem keys rotate`",
            )
        ]
    return []


def cookies(settings: Settings) -> list[Finding]:
    if settings.cookie_secure:
        return []
    return [
        error(
            "cookies_insecure",
            "TANDEM_COOKIE_SECURE is off: console sessions travel over plain HTTP",
            "serve the console over HTTPS (a reverse proxy) and unset TANDEM_COOKIE_SECURE "
            "(on by default)",
        )
    ]


def embedded_database(settings: Settings) -> list[Finding]:
    if not settings.database_url.startswith("sqlite"):
        return []
    return [
        warning(
            "embedded_database",
            "the database is SQLite, embedded: one writer at a time, no row-level security, "
            "one machine",
            "for production, point TANDEM_DATABASE_URL at PostgreSQL (postgresql://...) and "
            "run `tandem migrate`",
        )
    ]


def rate_limit_storage(settings: Settings, api_processes: int) -> list[Finding]:
    if not settings.rate_limit_storage.startswith("memory://") or api_processes <= 1:
        return []
    return [
        error(
            "rate_limits_per_process",
            f"rate limits are counted in each process's memory, and the API runs "
            f"{api_processes} processes: each limit holds {api_processes} times over",
            "unset TANDEM_RATE_LIMIT_STORAGE (the database, shared by every process) or set "
            "it to redis://host:6379",
        )
    ]


def proxy(settings: Settings) -> list[Finding]:
    trusted = [part.strip() for part in settings.forwarded_allow_ips.split(",")]
    if "*" in trusted:
        return [
            error(
                "proxy_trusts_anyone",
                "TANDEM_FORWARDED_ALLOW_IPS is *: any caller may name its own address and "
                "scheme (X-Forwarded-For), and so escape the sign-in limits per address",
                "set TANDEM_FORWARDED_ALLOW_IPS to the reverse proxy's address(es)",
            )
        ]
    if settings.cookie_secure and "forwarded_allow_ips" not in settings.model_fields_set:
        return [
            warning(
                "proxy_unset",
                "secure cookies need HTTPS, which a reverse proxy provides, but "
                "TANDEM_FORWARDED_ALLOW_IPS is not set: only a proxy on this machine "
                "(127.0.0.1) is trusted to name the client's address",
                "set TANDEM_FORWARDED_ALLOW_IPS to the proxy's address(es) (127.0.0.1 if it "
                "runs here)",
            )
        ]
    return []


SETTINGS_CHECKS: tuple[Callable[[Settings], list[Finding]], ...] = (
    secret_key,
    master_key,
    cookies,
    embedded_database,
    proxy,
)


def settings_findings(settings: Settings, *, api_processes: int) -> list[Finding]:
    found = [finding for check in SETTINGS_CHECKS for finding in check(settings)]
    return found + rate_limit_storage(settings, api_processes)


# The database, asked.


@dataclass(frozen=True)
class DatabaseFacts:
    """What `probe` learnt; None where it does not apply (SQLite has no roles nor a clock
    of its own) or the database could not be asked."""

    unreachable: str | None = None
    role: str | None = None
    superuser: bool | None = None
    bypasses_rls: bool | None = None
    revisions: tuple[str, ...] = ()  # the database's
    heads: tuple[str, ...] = ()  # the code's
    unknown_revisions: tuple[str, ...] = ()  # the database's that the code does not know
    worker_fresh_until: float | None = None  # seconds since the epoch
    skew_seconds: float | None = None  # the database's clock minus ours
    checked_at: float = 0.0  # seconds since the epoch, our clock


def probe(settings: Settings) -> DatabaseFacts:
    """Ask the database, on a connection of its own."""
    script = ScriptDirectory.from_config(alembic_config(settings.sqlalchemy_url))
    path = settings.database_url.removeprefix("sqlite:///")
    if path != settings.database_url and path != ":memory:" and not Path(path).is_file():
        return DatabaseFacts(  # (connecting would make an empty one)
            unreachable=f"no database file at {path}", checked_at=time.time()
        )
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        with engine.connect() as connection:
            facts: dict[str, Any] = {}
            if connection.dialect.name == "postgresql":
                row = connection.execute(
                    text(
                        "SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles "
                        "WHERE rolname = current_user"
                    )
                ).one()
                facts.update(role=row.role, superuser=row.rolsuper, bypasses_rls=row.rolbypassrls)
                before = time.time()
                database_now = connection.execute(
                    text("SELECT extract(epoch FROM clock_timestamp())")
                ).scalar_one()
                after = time.time()
                facts["skew_seconds"] = float(database_now) - (before + after) / 2
            revisions = tuple(MigrationContext.configure(connection).get_current_heads())
            facts["revisions"] = revisions
            facts["unknown_revisions"] = tuple(r for r in revisions if not _known(script, r))
            if revisions:
                with Session(connection) as session:
                    facts["worker_fresh_until"] = heartbeat.fresh_until(session)
            connection.rollback()
    except SQLAlchemyError as exc:
        return DatabaseFacts(
            unreachable=str(getattr(exc, "orig", None) or exc).splitlines()[0],
            heads=tuple(script.get_heads()),
            checked_at=time.time(),
        )
    finally:
        engine.dispose()
    return DatabaseFacts(**facts, heads=tuple(script.get_heads()), checked_at=time.time())


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def database_findings(settings: Settings, facts: DatabaseFacts) -> list[Finding]:
    if facts.unreachable is not None:
        return [
            error(
                "database_unreachable",
                f"the database does not answer: {facts.unreachable}",
                "check TANDEM_DATABASE_URL (host, port, role, password) and that the server "
                "runs; the other database checks were not run",
            )
        ]
    found = _role(facts) + _schema(facts)
    if facts.revisions and not facts.unknown_revisions:
        found += _worker(settings, facts)
    if facts.skew_seconds is not None and abs(facts.skew_seconds) > MAX_SKEW_SECONDS:
        found.append(
            error(
                "clock_skew",
                f"this machine's clock and the database's differ by {facts.skew_seconds:+.1f} s "
                f"(more than {MAX_SKEW_SECONDS:g} s): leases, due times and sessions would "
                "expire early or late",
                "synchronize both machines' clocks (NTP: chrony or systemd-timesyncd)",
            )
        )
    return found


def _role(facts: DatabaseFacts) -> list[Finding]:
    if not (facts.superuser or facts.bypasses_rls):
        return []
    what = "a superuser" if facts.superuser else "allowed to bypass row-level security"
    return [
        error(
            "rls_bypassed",
            f"the application connects as {facts.role}, {what}: the database's row-level "
            "security, which keeps each client's rows to that client, does not apply",
            "connect as an ordinary role: CREATE ROLE tandem_app LOGIN NOSUPERUSER "
            "NOBYPASSRLS, make it the owner of the database and its tables (they force "
            "row-level security on their owner too), and name it in TANDEM_DATABASE_URL",
        )
    ]


def _schema(facts: DatabaseFacts) -> list[Finding]:
    if facts.unknown_revisions:
        # The next release migrates before its code starts, and its migrations only expand
        # the schema this release uses (docs/deployment.md, Upgrades): this release keeps
        # serving while that one rolls out, so a newer schema is a warning, not an error.
        return [
            warning(
                "schema_newer",
                f"the database's schema is at {', '.join(facts.unknown_revisions)}, a revision "
                "this release does not know: a newer release migrated it. This release keeps "
                "working on it only while the next one rolls out (its migrations expand the "
                "schema, they remove nothing this release uses)",
                "finish rolling out the release that migrated the database, then run its "
                "`tandem check --deploy`; a database two releases ahead is not supported",
            )
        ]
    if set(facts.revisions) == set(facts.heads):
        return []
    at = ", ".join(facts.revisions) or "no schema at all"
    return [
        error(
            "migrations_behind",
            f"the database's schema is at {at}; this release needs {', '.join(facts.heads)}",
            "run `tandem migrate` (with the same TANDEM_DATABASE_URL)",
        )
    ]


def _worker(settings: Settings, facts: DatabaseFacts) -> list[Finding]:
    until = facts.worker_fresh_until
    if until is not None and until >= facts.checked_at:
        return []
    fix = (
        "run `tandem worker` (or `tandem serve`, which runs it beside the API) with the same "
        "settings, and read its log for failed passes"
    )
    if until is None:
        return [error("worker_not_running", "no worker pass ever finished on this database", fix)]
    stale = facts.checked_at - until + heartbeat.fresh_for(settings.worker_interval_seconds)
    return [
        error(
            "worker_not_running",
            f"the worker's last pass finished about {stale:.0f} s ago: no lease is reaped, no "
            "webhook or mail sent, no SLA escalated meanwhile",
            fix,
        )
    ]


@dataclass(frozen=True)
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """No error (warnings are worth reading, but may be intended)."""
        return not any(finding.severity == "error" for finding in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [finding.as_dict() for finding in self.findings]}


def check_deployment(settings: Settings, *, api_processes: int) -> Report:
    found = settings_findings(settings, api_processes=api_processes)
    return Report(found + database_findings(settings, probe(settings)))
