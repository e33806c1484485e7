"""Cache of Cal.com reads (cashews: memory, or Redis when configured) with single flight.

Concurrent identical misses in one process share one upstream call; with Redis, processes
also take a short lock per key so that one of them fetches while the others wait for it.
Slot entries carry a per-event-type generation number in their key: a booking, reschedule
or cancel bumps it, so every older entry (and any fetch that was in flight during the
change) is never read again and simply expires.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cashews import Cache
from cashews.exceptions import CacheBackendInteractionError

from askpro.integrations.calcom import metrics
from askpro.kit.shared_state import REDIS_ERRORS, Fallback

# cashews wraps the Redis client's errors in its own.
CACHE_ERRORS: tuple[type[Exception], ...] = (*REDIS_ERRORS, CacheBackendInteractionError)
# How long one process may hold a key's fetch before others stop waiting and fetch too.
LOCK_SECONDS = 10.0


class CalcomCache:
    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str = "askpro:calcom",
        slots_ttl: float = 60.0,
        catalog_ttl: float = 600.0,
    ) -> None:
        # Redis when configured, else (and while Redis is unreachable) process memory.
        self._local = Cache()
        self._local.setup("mem://")
        self._shared: Cache | None = None
        if url:
            self._shared = Cache()
            self._shared.setup(url, suppress=False)
        self._fallback = Fallback("calcom.cache")
        self.namespace = namespace
        self.slots_ttl = slots_ttl
        self.catalog_ttl = catalog_ttl
        self._inflight: dict[str, asyncio.Task[str]] = {}
        self.shared = bool(url)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``method`` on Redis, or on process memory while Redis is unreachable."""
        if self._shared is not None and not self._fallback.active:
            try:
                result = await getattr(self._shared, method)(*args, **kwargs)
            except CACHE_ERRORS as error:
                self._fallback.failed(error)
            else:
                self._fallback.succeeded()
                return result
        return await getattr(self._local, method)(*args, **kwargs)

    def key(self, account: str, *parts: object) -> str:
        return ":".join([self.namespace, account, *(str(part) for part in parts)])

    async def slots_generation(self, account: str, event_type_id: int) -> int:
        value = await self._call("get", self.key(account, "slots-gen", event_type_id))
        return int(value or 0)

    async def invalidate_slots(self, account: str, event_type_id: int) -> None:
        await self._call("incr", self.key(account, "slots-gen", event_type_id))

    async def get_or_fetch(
        self, kind: str, key: str, ttl: float, fetch: Callable[[], Awaitable[str]]
    ) -> str:
        """The cached text for ``key`` or, on a miss, the result of one shared ``fetch()``."""
        cached = await self._call("get", key)
        if cached is not None:
            metrics.CACHE.labels(kind, "hit").inc()
            return str(cached)
        task = self._inflight.get(key)
        if task is not None:
            metrics.CACHE.labels(kind, "coalesced").inc()
        else:
            metrics.CACHE.labels(kind, "miss").inc()
            # A task of its own: a caller that gives up does not cancel the others' fetch.
            task = asyncio.ensure_future(self._fill(kind, key, ttl, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(task)

    async def _fill(
        self, kind: str, key: str, ttl: float, fetch: Callable[[], Awaitable[str]]
    ) -> str:
        if not self.shared:
            value = await fetch()
            await self._call("set", key, value, expire=ttl)
            return value
        # Redis: one process fetches, the others wait for its value (bounded; then fetch).
        lock_key, token = f"{key}:lock", uuid.uuid4().hex
        if not await self._call("set_lock", lock_key, token, expire=LOCK_SECONDS):
            waited = await self._wait_for_other_process(key, lock_key)
            if waited is not None:
                metrics.CACHE.labels(
                    key.split(":")[3] if key.count(":") > 3 else "other", "shared"
                ).inc()
                return waited
        try:
            value = await fetch()
            await self._call("set", key, value, expire=ttl)
            return value
        finally:
            await self._call("unlock", lock_key, token)

    async def _wait_for_other_process(self, key: str, lock_key: str) -> str | None:
        deadline = time.monotonic() + LOCK_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            cached = await self._call("get", key)
            if cached is not None:
                return str(cached)
            if not await self._call("is_locked", lock_key):
                return None  # the other fetch failed: try ourselves
        return None

    def _settle(self, key: str, task: asyncio.Task[str]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody awaited is not reported

    async def clear(self) -> None:
        await self._local.delete_match(f"{self.namespace}:*")
        await self._call("delete_match", f"{self.namespace}:*")

    async def close(self) -> None:
        await self._local.close()
        if self._shared is not None:
            await self._shared.close()
