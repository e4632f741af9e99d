"""Rate limits on sign-in and the service desk's public pages (per client address) and on the
API (per API key), counted by the `limits` library.

`tandem serve` runs one API process per core: counted in each process's memory, a limit
would hold once per process. So the counts live where every process sees the same number:
by default the database (`DatabaseStorage`, a `limits` storage over the `rate_limits` table:
one short upsert per counted request), or Redis or any other storage URI `limits` knows
(TANDEM_RATE_LIMIT_STORAGE=redis://host:6379, with the redis client installed). `memory://`
counts per process, for a single one.
"""

from __future__ import annotations

import math
import time
from typing import cast

from limits import RateLimitItem, parse, storage, strategies
from sqlalchemy import Engine, Float, Integer, String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.config import Settings
from tandem.core.db import Base
from tandem.core.errors import TandemError

DATABASE = "database"


class RateLimitCounter(Base):
    """One window's count of one limited key (not a client's data: a key names an API key
    or a client address)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch, as `limits`


class DatabaseStorage(storage.Storage):
    """A `limits` storage of fixed windows in the application's database: an increment is one
    atomic upsert that starts a new window once the last one expired."""

    STORAGE_SCHEME = ["tandem+database"]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return Exception

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        table = RateLimitCounter.__table__
        insert = self._dialect.insert(table).values(key=key, hits=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((expired, amount), else_=table.c.hits + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.hits)
        with self.engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(RateLimitCounter.hits, RateLimitCounter.expires_at).where(
                    RateLimitCounter.key == key
                )
            ).one_or_none()
        return int(row.hits) if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as connection:
            expires = connection.execute(
                select(RateLimitCounter.expires_at).where(RateLimitCounter.key == key)
            ).scalar_one_or_none()
        return float(expires) if expires is not None else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return int(connection.execute(delete(RateLimitCounter)).rowcount)

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))


class TooManyRequests(TandemError):
    status = 429
    title = "Too many requests"


class RateLimits:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        if settings.rate_limit_storage == DATABASE:
            if engine is None:
                raise ValueError("rate limits counted in the database need its engine")
            counts: storage.Storage = DatabaseStorage(engine)
            limiter: strategies.RateLimiter = strategies.FixedWindowRateLimiter(counts)
        else:
            counts = cast(storage.Storage, storage.storage_from_string(settings.rate_limit_storage))
            limiter = strategies.MovingWindowRateLimiter(counts)
        self._limiter = limiter
        self._items: dict[str, RateLimitItem] = {
            "sign_in": parse(settings.rate_limit_sign_in),
            "api_key": parse(settings.rate_limit_api_key),
            "public": parse(settings.rate_limit_public),
        }

    def hit(self, kind: str, who: str) -> None:
        """Count one request of `who`; TooManyRequests (with Retry-After) over the limit."""
        item = self._items[kind]
        if self._limiter.hit(item, kind, who):
            return
        reset_at = self._limiter.get_window_stats(item, kind, who).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(
            f"too many requests: at most {item} for each {kind.replace('_', ' ')}; "
            f"try again in {retry_after} s",
            retry_after=retry_after,
        )
