"""Client-side rate limit per Cal.com API key, shared through Redis when configured.

Cal.com allows 120 requests per minute per API key and blocks the key for 60 s beyond
that. A moving window (``limits``' sliding log: at most N requests in ANY 60 s) is at least
as strict as Cal.com's fixed window, so N processes sharing the Redis storage together
never exceed it. A caller waits for the next free request while that fits its deadline,
else gets ``CalcomRateLimitError`` at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from askpro.integrations.calcom import metrics
from askpro.integrations.calcom.errors import CalcomRateLimitError
from askpro.kit.shared_state import FallbackStorage


def account_id(api_key: str) -> str:
    """A stable, non-secret identifier of an API key (for keys, metrics and logs)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def limits_storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    storage = storage_from_string(f"async+{redis_url}", implementation="redispy")
    if not isinstance(storage, Storage):
        raise TypeError(f"limits returned a synchronous storage for {redis_url!r}")
    # Redis unreachable: this process's own budget until it answers again (kit.shared_state).
    return FallbackStorage(storage, "calcom.ratelimit")


class RateLimiter:
    def __init__(
        self,
        account: str,
        *,
        limit: int = 120,
        window_seconds: int = 60,
        storage: Storage | None = None,
        namespace: str = "askpro:calcom",
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._key = f"{namespace}:{account}"

    async def acquire(self, deadline: float) -> float:
        """Take one request from the budget (waiting if needed); return seconds waited.

        ``deadline`` is a ``time.monotonic()`` instant.
        """
        started = time.monotonic()
        while not await self._limiter.hit(self._item, self._key):
            stats = await self._limiter.get_window_stats(self._item, self._key)
            wait = max(stats.reset_time - time.time(), 0.005)
            left = deadline - time.monotonic()
            if wait > left:
                metrics.RATE_LIMITED.labels("client").inc()
                raise CalcomRateLimitError(
                    f"rate budget of {self.limit} per {self.window_seconds} s exhausted; next "
                    f"request possible in {wait:.2f} s, after the caller's deadline "
                    f"({max(left, 0):.2f} s)",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)
        waited = time.monotonic() - started
        metrics.RATE_LIMIT_WAIT_SECONDS.observe(waited)
        return waited

    async def remaining(self) -> int:
        stats = await self._limiter.get_window_stats(self._item, self._key)
        return int(stats.remaining)
