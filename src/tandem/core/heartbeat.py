"""The worker's heartbeat, so that `tandem check --deploy` can tell it runs: each pass it
renews one row of the `rate_limits` table (a key that expires, which is all that table
holds), fresh for a few of its intervals. A row long expired, or none, means no pass has
finished lately: the worker is not running, or is stuck."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tandem.core.ratelimit import RateLimitCounter

# Not a rate limit's key: those of `limits` begin "LIMITER/".
WORKER_KEY = "tandem/worker/last-pass"


def fresh_for(interval_seconds: float) -> float:
    """How long one pass vouches for the worker: three intervals, at least a minute (a pass
    that sends webhooks or mail may itself take a while)."""
    return max(3 * interval_seconds, 60.0)


def beat(session: Session, interval_seconds: float) -> None:
    """A pass has finished: the worker runs, for `fresh_for(interval)` from now."""
    table = RateLimitCounter.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    expires = time.time() + fresh_for(interval_seconds)
    session.execute(
        dialect.insert(table)
        .values(key=WORKER_KEY, hits=1, expires_at=expires)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"hits": table.c.hits + 1, "expires_at": expires},
        )
    )


def fresh_until(session: Session) -> float | None:
    """Until when (seconds since the epoch) the last pass vouches for the worker; None if
    no worker ever finished a pass on this database."""
    value = session.scalar(
        select(RateLimitCounter.expires_at).where(RateLimitCounter.key == WORKER_KEY)
    )
    return float(value) if value is not None else None
