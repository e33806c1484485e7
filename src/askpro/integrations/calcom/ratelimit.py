"""Client-side rate limit per Cal.com API key, shared through Redis when configured.

Cal.com allows 120 requests per minute per API key and blocks the key for 60 s beyond
that. A moving window (``limits``' sliding log: at most N requests in ANY 60 s) is at least
as strict as Cal.com's fixed window, so N processes sharing the Redis storage together
never exceed it. A caller waits for the next free request while that fits its deadline,
else gets ``CalcomRateLimitError`` at once.

Callers come first: work done inside :func:`background_work` (reconciliation, warm-cache,
the sync jobs) also takes from a second window of ``background_share`` times N per minute, so it
can never use more than that share and the rest always stays for live tool calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import math
import time
from collections.abc import Iterator

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from askpro.integrations.calcom import metrics
from askpro.integrations.calcom.errors import CalcomRateLimitError
from askpro.kit.shared_state import FallbackStorage

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "askpro_calcom_background", default=False
)


@contextlib.contextmanager
def background_work() -> Iterator[None]:
    """Mark the Cal.com requests made inside as background work (see the module docstring);
    tasks started inside inherit the mark."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def in_background() -> bool:
    return _background.get()


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
        background_share: float = 0.5,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.background_limit = max(1, math.floor(limit * background_share))
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._background_item = RateLimitItemPerSecond(self.background_limit, window_seconds)
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._key = f"{namespace}:{account}"
        self._background_key = f"{namespace}:{account}:background"

    async def acquire(self, deadline: float) -> float:
        """Take one request from the budget (waiting if needed); return seconds waited.

        ``deadline`` is a ``time.monotonic()`` instant. Inside :func:`background_work` the
        request also takes from the background share first.
        """
        started = time.monotonic()
        if in_background():
            await self._take(self._background_item, self._background_key, deadline, "background")
        await self._take(self._item, self._key, deadline, "client")
        waited = time.monotonic() - started
        metrics.RATE_LIMIT_WAIT_SECONDS.observe(waited)
        return waited

    async def _take(
        self, item: RateLimitItemPerSecond, key: str, deadline: float, who: str
    ) -> None:
        while not await self._limiter.hit(item, key):
            stats = await self._limiter.get_window_stats(item, key)
            wait = max(stats.reset_time - time.time(), 0.005)
            left = deadline - time.monotonic()
            if wait > left:
                metrics.RATE_LIMITED.labels(who).inc()
                budget = item.amount
                raise CalcomRateLimitError(
                    f"{who} rate budget of {budget} per {self.window_seconds} s exhausted; next "
                    f"request possible in {wait:.2f} s, after the caller's deadline "
                    f"({max(left, 0):.2f} s)",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)

    async def remaining(self) -> int:
        stats = await self._limiter.get_window_stats(self._item, self._key)
        return int(stats.remaining)
