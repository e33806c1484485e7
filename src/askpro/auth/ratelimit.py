"""Rate limits with the ``limits`` library: per token on the API, per client IP on public paths.

Moving windows, so "600 a minute" means in any 60 seconds, not per clock minute. With
``ASKPRO_REDIS_URL`` set the counters live in Redis and every process shares one budget;
otherwise they are in memory (correct for one process).

Webhook routes (``/webhooks/*``, ``/retell/*``) are never limited here: a provider must
never be refused for volume (only the body size limit applies to them).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from askpro.config import Settings
from askpro.kit.problems import Problem, problem_response
from askpro.kit.shared_state import FallbackStorage, MovingWindowMemory
from askpro.observability import get_logger

log = get_logger(__name__)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "askpro_rate_limit_storage_errors_total",
    "Rate-limit checks that could not reach the storage (the request was allowed).",
)

PUBLIC_LIMITED_PREFIXES = ("/health", "/metrics", "/api/health")
NEVER_LIMITED_PREFIXES = ("/webhooks/", "/retell/")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until a request is allowed again / the window frees up

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers

    def problem(self) -> Problem:
        return Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"limit of {self.limit} requests reached; retry in {max(1, self.reset_after)} s",
            headers=self.headers(),
        )


def build_storage(redis_url: str | None) -> Storage:
    if redis_url is None:
        return MovingWindowMemory()
    if redis_url.startswith("unix://"):
        redis_url = "redis+" + redis_url
    # Redis unreachable: per-process budgets until it answers again (kit.shared_state).
    return FallbackStorage(
        RedisStorage(f"async+{redis_url}", implementation="redispy"), "auth.ratelimit"
    )


class RateLimiter:
    """The two budgets of the service over one storage."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.storage = storage or build_storage(settings.redis_url)
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.per_token: RateLimitItem = parse(settings.rate_limit_per_token)
        self.per_ip: RateLimitItem = parse(settings.rate_limit_per_ip)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        """Count one request. If the storage (Redis) fails, the request is allowed: the
        limits protect the service, and an unreachable Redis must not refuse everyone."""
        try:
            allowed = await self._strategy.hit(item, *identifiers)
            stats = await self._strategy.get_window_stats(item, *identifiers)
        except Exception as error:  # noqa: BLE001 - fail open, loudly
            RATE_LIMIT_STORAGE_ERRORS.inc()
            log.warning("ratelimit.storage_failed", error=type(error).__name__)
            return Verdict(True, item.amount, item.amount, item.get_expiry())
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, item.amount, max(0, stats.remaining), reset_after)

    async def hit_token(self, public_id: str) -> Verdict:
        return await self.hit(self.per_token, "token", public_id)

    async def hit_ip(self, client_ip: str) -> Verdict:
        return await self.hit(self.per_ip, "ip", client_ip)

    async def hit_unauthenticated(self, client_ip: str) -> Verdict:
        """Requests to the API without a usable token: a per-IP budget of their own."""
        return await self.hit(self.per_ip, "unauthenticated", client_ip)


def is_public_limited(path: str) -> bool:
    if path.startswith(NEVER_LIMITED_PREFIXES):
        return False
    return any(
        path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_LIMITED_PREFIXES
    )


class PublicRateLimitMiddleware:
    """Per-IP budget for the public endpoints (health, metrics); adds RateLimit-* headers.

    The client IP is the socket peer: put the service behind a proxy that sets it (uvicorn
    ``--proxy-headers``) rather than trusting ``X-Forwarded-For`` from anyone.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public_limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        verdict = await self.limiter.hit_ip(client[0] if client else "unknown")
        if not verdict.allowed:
            response = problem_response(verdict.problem())
            await response(scope, receive, send)
            return
        extra = [
            (name.lower().encode(), value.encode()) for name, value in verdict.headers().items()
        ]

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]  # type: ignore[misc]
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]
