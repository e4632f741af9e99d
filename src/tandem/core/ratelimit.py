"""Rate limits on sign-in (per client address) and on the API (per API key), with the
`limits` library's moving window.

The default storage is each process's memory: with N API worker processes a limit is
enforced N times over. TANDEM_RATE_LIMIT_STORAGE takes any storage URI `limits` knows
(e.g. redis://host:6379, with the redis client installed) to share one count.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from tandem.core.config import Settings
from tandem.core.errors import TandemError


class TooManyRequests(TandemError):
    status = 429
    title = "Too many requests"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.rate_limit_storage)
        )
        self._items: dict[str, RateLimitItem] = {
            "sign_in": parse(settings.rate_limit_sign_in),
            "api_key": parse(settings.rate_limit_api_key),
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
