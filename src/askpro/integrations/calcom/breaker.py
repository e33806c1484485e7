"""One circuit breaker per Cal.com base URL (purgatory; state in Redis when configured).

Only failures of Cal.com itself count (5xx, timeouts, connection errors, malformed
answers); our own mistakes (4xx) and rate limiting do not open the circuit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from purgatory import AsyncCircuitBreakerFactory, AsyncInMemoryUnitOfWork, AsyncRedisUnitOfWork
from purgatory.domain.model import OpenedState

from askpro.integrations.calcom import metrics
from askpro.integrations.calcom.errors import (
    CalcomAuthenticationError,
    CalcomCircuitOpenError,
    CalcomNotFoundError,
    CalcomRateLimitError,
    CalcomValidationError,
)
from askpro.kit.shared_state import REDIS_ERRORS, Fallback
from askpro.observability import get_logger

log = get_logger(__name__)

_NOT_FAILURES: list[type[BaseException] | tuple[type[BaseException], Callable[..., bool]]] = [
    CalcomAuthenticationError,
    CalcomNotFoundError,
    CalcomValidationError,
    CalcomRateLimitError,
    asyncio.CancelledError,
]
_STATE_VALUE = {"closed": 0, "half-opened": 1, "opened": 2}


class CircuitBreaker:
    """Guards calls to one base URL; ``threshold`` consecutive failures open it for ``ttl`` s."""

    def __init__(
        self,
        base_url: str,
        *,
        threshold: int = 5,
        ttl_seconds: float = 30.0,
        redis_url: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.name = f"calcom:{base_url}"
        self.threshold = threshold
        self.ttl_seconds = ttl_seconds
        uow = AsyncRedisUnitOfWork(redis_url) if redis_url else AsyncInMemoryUnitOfWork()
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=ttl_seconds, exclude=_NOT_FAILURES, uow=uow
        )
        # This process's own breaker while Redis is unreachable (kit.shared_state).
        self._local = (
            AsyncCircuitBreakerFactory(
                default_threshold=threshold,
                default_ttl=ttl_seconds,
                exclude=_NOT_FAILURES,
                uow=AsyncInMemoryUnitOfWork(),
            )
            if redis_url
            else None
        )
        self._fallback = Fallback("calcom.breaker")
        self._initialized = not redis_url
        self._init_lock = asyncio.Lock()
        self._published: str | None = None

    async def _ensure_initialized(self) -> None:
        if self._initialized:
            return
        async with self._init_lock:
            if not self._initialized:
                await self._factory.initialize()
                self._initialized = True

    async def _breaker(self) -> Any:
        """The shared breaker, or this process's own while Redis is unreachable."""
        if self._local is None:
            return await self._factory.get_breaker(self.name)
        if not self._fallback.active:
            try:
                await self._ensure_initialized()
                breaker = await self._factory.get_breaker(self.name)
            except REDIS_ERRORS as error:
                self._fallback.failed(error)
            else:
                self._fallback.succeeded()
                return breaker
        return await self._local.get_breaker(self.name)

    async def reject_if_open(self) -> None:
        """Fail fast before spending anything (e.g. rate budget) while the circuit is open."""
        breaker = await self._breaker()
        context = breaker.context
        opened_at = context.opened_at
        still_open = opened_at is not None and time.time() < opened_at + self.ttl_seconds
        if context.state == "opened" and still_open:
            raise self._open_error()

    def _open_error(self) -> CalcomCircuitOpenError:
        metrics.BREAKER_REJECTIONS.labels(self.base_url).inc()
        return CalcomCircuitOpenError(
            f"circuit open for {self.base_url} after {self.threshold} consecutive failures; "
            f"next probe within {self.ttl_seconds:g} s",
        )

    @contextlib.asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the body through the breaker; raise ``CalcomCircuitOpenError`` when open."""
        breaker = await self._breaker()
        try:
            async with breaker:
                yield
        except OpenedState:
            self._publish(breaker.context.state)
            raise self._open_error() from None
        except REDIS_ERRORS as error:
            # Recording the outcome in Redis failed (the body never touches Redis): keep
            # the body's own outcome, and use this process's breaker until Redis answers.
            self._fallback.failed(error)
            if isinstance(error.__context__, Exception) and not isinstance(
                error.__context__, REDIS_ERRORS
            ):
                raise error.__context__ from None
        finally:
            self._publish(breaker.context.state)

    async def state(self) -> str:
        """``closed``, ``half-opened`` or ``opened`` (purgatory's names)."""
        breaker = await self._breaker()
        state = str(breaker.context.state)
        self._publish(state)
        return state

    def _publish(self, state: str) -> None:
        if state != self._published:
            if self._published is not None:
                log.warning("calcom.breaker_state", base_url=self.base_url, state=state)
            self._published = state
        metrics.BREAKER_STATE.labels(self.base_url).set(_STATE_VALUE.get(state, 0))
