"""The composition root: settings, engine, clock and every long-lived piece (keys, the
dispatcher, rate limits, caches) wired once per process; tests swap pieces here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tandem.audit.chain import derive_key
from tandem.core.caching import CACHES, Caches
from tandem.core.clock import Clock, SystemClock
from tandem.core.config import Settings, load_settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.core.ratelimit import RateLimits
from tandem.decisions import engine as rules
from tandem.dispatch.service import Dispatcher
from tandem.tenancy.context import Context
from tandem.tenancy.principal import Principal
from tandem.vault.sealing import Keyring


@dataclass
class Container:
    """The composition root's product: every long-lived piece, wired once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    rate_limits: RateLimits = field(init=False)
    audit_key: bytes = field(init=False)  # the audit chain's key, from the secret
    keyring: Keyring = field(init=False)  # the keys of personal data at rest
    dispatcher: Dispatcher = field(init=False)
    caches: Caches = field(init=False)  # every cache of immutable facts, bounded

    def __post_init__(self) -> None:
        self.rate_limits = RateLimits(self.settings, self.engine)
        self.audit_key = derive_key(self.settings.secret_key)
        self.keyring = Keyring(*self.settings.master_keys)
        self.caches = CACHES  # one set per server process: started empty, sized here
        self.caches.clear()
        self.caches.configure(self.settings.cache_scale)
        self.dispatcher = Dispatcher(self.clock, self.keyring, self.settings.lease_seconds)

    @contextmanager
    def context(self, principal: Principal) -> Iterator[Context]:
        """A use case's context: a transaction (committed when the block ends, rolled back
        if it raises), the caller, the clock's now and the keys."""
        with transaction(self.sessions) as session:
            yield Context(session, principal, self.clock.now(), self.keyring, self.audit_key)


def build_container(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or load_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.sqlalchemy_url, budgets=settings.budgets)
    rules.configure(
        rules.Budget(
            seconds=settings.rules_budget_ms / 1000,
            memory_mb=settings.rules_memory_mb,
            workers=settings.rules_workers,
        )
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
    )
