"""Shared fast state in Redis, with a per-process fallback while Redis is unreachable.

Rate limits, the Cal.com breaker and the Cal.com cache keep their state in Redis when
``ASKPRO_REDIS_URL`` is set, so that every process agrees. Redis is not the truth for
anything (PostgreSQL is), so when it cannot be reached askpro keeps serving: each
component switches to an in-memory state of its own process (correct for that process,
no longer shared), tries Redis again every ``RETRY_SECONDS``, and goes back to the shared
state as soon as Redis answers. While any component is on its fallback,
``/health/ready`` lists it under ``shared_state`` and ``askpro_shared_state_fallback``
is 1 for it; the switch both ways is logged once.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import redis.exceptions
from limits.aio.storage import MemoryStorage, MovingWindowSupport, Storage
from prometheus_client import Gauge

from askpro.observability import get_logger

log = get_logger(__name__)

RETRY_SECONDS = 5.0
# What an unreachable or failing Redis raises: redis-py wraps socket errors in its own
# types; a refused connection can also surface as the builtin ConnectionError.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.RedisError, ConnectionError)

FALLBACK_ACTIVE = Gauge(
    "askpro_shared_state_fallback",
    "1 while a component uses its per-process fallback because Redis is unreachable.",
    ["component"],
)

# Component → (the Redis error that sent it to its fallback, when it tries Redis again).
_degraded: dict[str, tuple[str, float]] = {}


def degraded_components() -> dict[str, str]:
    """Components on their fallback now → the Redis error (empty: all shared).

    A component that failed but has not been used since its retry time is not listed:
    it will try Redis on its next use (``/health/ready`` pings Redis itself).
    """
    now = time.monotonic()
    return {name: error for name, (error, retry_at) in _degraded.items() if now < retry_at}


class Fallback:
    """When one component should try Redis, and the bookkeeping of its switches."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._retry_at = 0.0
        FALLBACK_ACTIVE.labels(component).set(0)

    @property
    def active(self) -> bool:
        """On the fallback and not yet time to try Redis again."""
        return time.monotonic() < self._retry_at

    def failed(self, error: BaseException) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if self.component not in _degraded:
            log.error(
                "shared_state.fallback",
                component=self.component,
                error=f"{type(error).__name__}: {error}"[:300],
                retry_in_s=RETRY_SECONDS,
            )
        _degraded[self.component] = (type(error).__name__, self._retry_at)
        FALLBACK_ACTIVE.labels(self.component).set(1)

    def succeeded(self) -> None:
        if _degraded.pop(self.component, None) is not None:
            log.warning("shared_state.restored", component=self.component)
            FALLBACK_ACTIVE.labels(self.component).set(0)


class MovingWindowMemory(MemoryStorage):
    """``limits``' process-memory storage with moving windows that cost O(1) per hit.

    The library's own keeps each key's hits in a list (a hit inserts at its front) and
    after every hit expires all keys in a task that copies each list through a thread: at
    a budget of thousands a minute, over a tenth of an API request's CPU. Here each key is
    a deque of hit times, oldest first, never longer than its limit, trimmed when used;
    keys left idle are swept at most once a second. Same answers: a hit is refused when
    ``limit`` hits fall inside the last ``expiry`` seconds.
    """

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[int, deque[float]]] = {}
        self._next_sweep = 0.0

    def _window(self, key: str, expiry: int, now: float) -> deque[float]:
        if now >= self._next_sweep:
            self._sweep(now)
        found = self._windows.get(key)
        if found is None:
            window: deque[float] = deque()
            self._windows[key] = (expiry, window)
            return window
        window = found[1]
        cutoff = now - expiry
        while window and window[0] < cutoff:
            window.popleft()
        return window

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_SECONDS
        idle = [
            key
            for key, (expiry, window) in self._windows.items()
            if not window or window[-1] < now - expiry
        ]
        for key in idle:
            del self._windows[key]

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        window = self._window(key, expiry, now)
        if len(window) + amount > limit:
            return False
        window.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        window = self._window(key, expiry, now)
        # A hit exactly ``expiry`` old still refuses the next one but no longer counts here
        # (as in the library's storage).
        cutoff = now - expiry
        first = 0
        while first < len(window) and window[first] <= cutoff:
            first += 1
        if first == len(window):
            return now, 0
        return window[first], len(window) - first

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)
        await super().clear(key)

    async def reset(self) -> int | None:
        count = len(self._windows)
        self._windows.clear()
        return max(count, await super().reset() or 0)


class FallbackStorage(Storage, MovingWindowSupport):
    """A ``limits`` storage: ``primary`` (Redis) while it answers, else process memory."""

    STORAGE_SCHEME = None

    def __init__(self, primary: Storage, component: str) -> None:
        super().__init__()
        if not isinstance(primary, MovingWindowSupport):
            raise TypeError(f"{type(primary).__name__} has no moving-window support")
        self.primary = primary
        self.memory = MovingWindowMemory()
        self.fallback = Fallback(component)

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # every method handles the primary's errors itself

    def _current(self) -> Storage:
        return self.memory if self.fallback.active else self.primary

    async def _run(self, method: str, *args: object) -> Any:
        storage = self._current()
        if storage is self.primary:
            try:
                result = await getattr(self.primary, method)(*args)
            except REDIS_ERRORS as error:
                self.fallback.failed(error)
            else:
                self.fallback.succeeded()
                return result
        return await getattr(self.memory, method)(*args)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(await self._run("incr", key, expiry, amount))

    async def get(self, key: str) -> int:
        return int(await self._run("get", key))

    async def get_expiry(self, key: str) -> float:
        return float(await self._run("get_expiry", key))

    async def check(self) -> bool:
        return bool(await self._run("check"))

    async def reset(self) -> int | None:
        await self.memory.reset()
        result: int | None = await self._run("reset")
        return result

    async def clear(self, key: str) -> None:
        await self._run("clear", key)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return bool(await self._run("acquire_entry", key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        start, count = await self._run("get_moving_window", key, limit, expiry)
        return float(start), int(count)
