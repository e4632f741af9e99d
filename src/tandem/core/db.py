"""Engine, sessions, and the column types every feature package shares.

SQLite (the embedded default) runs every transaction as ``BEGIN IMMEDIATE``: one writer at a
time, which is what makes its claim statement correct without ``SKIP LOCKED``.
PostgreSQL closes sessions left idle inside a transaction, because long-open transactions
stall the queue's vacuum. Pooled connections are not pinged before each use (a round trip
per transaction on the claim path): a connection the server dropped fails one request, and
SQLAlchemy then discards the whole pool.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import uuid_utils.compat as uuid_utils
from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from uuid_utils import uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> uuid.UUID:
    """A UUIDv7: random enough to be unguessable, and time-ordered, so that new rows land
    at the end of primary-key and id indexes instead of on random pages (bulk intake writes
    several times faster into large tables)."""
    return uuid_utils.uuid7()


def new_id_hex() -> str:
    """`new_id()` as 32 hex digits, made without a `uuid.UUID` (bulk intake makes 100,000)."""
    return uuid7().hex


@dataclass(frozen=True)
class Budgets:
    """How long a unit of work may wait, so that a stuck transaction or a database restart
    costs a request seconds (then a retryable 503), never the pool: for a connection from the
    pool, for a lock, for one statement, and how long a transaction may sit idle."""

    pool_timeout_s: float = 5.0
    connect_timeout_s: int = 5
    lock_timeout_ms: int = 5_000
    statement_timeout_ms: int = 60_000
    idle_in_transaction_ms: int = 60_000


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, budgets: Budgets | None = Budgets()
) -> Engine:
    """The engine of the app and the worker; `budgets` None (migrations) waits as long as
    the work takes."""
    if url.startswith("sqlite"):
        busy_ms = budgets.lock_timeout_ms if budgets else 600_000
        engine = create_engine(
            url,
            echo=echo,
            poolclass=NullPool if ":memory:" not in url else None,
            connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        )
        _make_sqlite_transactions_immediate(engine, busy_ms)
        return engine
    options: dict[str, Any] = {}
    if budgets is not None:
        settings = (
            f"-c lock_timeout={budgets.lock_timeout_ms} "
            f"-c statement_timeout={budgets.statement_timeout_ms} "
            f"-c idle_in_transaction_session_timeout={budgets.idle_in_transaction_ms}"
        )
        options = {
            "pool_timeout": budgets.pool_timeout_s,
            "connect_args": {"options": settings, "connect_timeout": budgets.connect_timeout_s},
        }
    # No pre-ping (a round trip per checkout on the hot path): a connection a restart broke
    # fails its request (a 503, retried) and SQLAlchemy then drops the pool's stale ones.
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, **options)
    _scope_transactions_to_tenant(engine)
    return engine


SCHEMA_REVISIONS = "SELECT version_num FROM alembic_version"


def schema_revisions(url: str, timeout_s: float = 1.0) -> tuple[str, ...] | None:
    """The schema's migration revisions, read within `timeout_s` on a connection of its own
    (the pool may be exhausted: readiness must still answer); none when the database has no
    schema yet, None when it does not answer."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        try:
            with sqlite3.connect(path, timeout=timeout_s) as connection:
                return tuple(row[0] for row in connection.execute(SCHEMA_REVISIONS))
        except sqlite3.OperationalError as exc:
            return () if "no such table" in str(exc) else None
        except sqlite3.Error:
            return None
    ms = int(timeout_s * 1000)
    try:
        with psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"),
            connect_timeout=max(1, int(timeout_s)),
            options=f"-c statement_timeout={ms}",
        ) as connection:
            return tuple(row[0] for row in connection.execute(SCHEMA_REVISIONS))
    except psycopg.errors.UndefinedTable:
        return ()
    except psycopg.Error:
        return None


# The client whose user the current request serves; None for provider staff, agents (who
# work for several clients) and background jobs. Set by `tandem.http.requires`.
TENANT: ContextVar[int | None] = ContextVar("tandem_tenant", default=None)


def _scope_transactions_to_tenant(engine: Engine) -> None:
    """PostgreSQL's row-level security (migration 0006) is the second wall behind the
    application's own scoping: every transaction begun for a client's user names that
    client, for this transaction only (set_config(..., true)), so a pooled connection
    carries nothing over to the next request."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        tenant = TENANT.get()
        if tenant is not None:
            connection.exec_driver_sql(
                "SELECT set_config('tandem.client_id', %s, true)", (str(tenant),)
            )


def _make_sqlite_transactions_immediate(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def is_postgres(db: Session | Connection | Engine) -> bool:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name == "postgresql"


def insert_unless_present(
    db: Session | Connection, model: type[Base], values: dict[str, Any]
) -> None:
    """Insert a row unless one with its key exists (a concurrent first writer may have made
    it): INSERT ... ON CONFLICT DO NOTHING, which both databases speak."""
    dialect = postgresql if is_postgres(db) else sqlite
    db.execute(dialect.insert(model).values(**values).on_conflict_do_nothing())
