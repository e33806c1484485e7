"""The HTTP machinery under :class:`CalcomClient`: retries (stamina), rate limiter, breaker,
error mapping, cache access and metrics, per operation."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import stamina

from askpro.integrations.calcom import metrics, wire
from askpro.integrations.calcom.breaker import CircuitBreaker
from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.dtos import Booking
from askpro.integrations.calcom.errors import (
    CalcomCircuitOpenError,
    CalcomError,
    CalcomMalformedResponseError,
    CalcomRateLimitError,
    CalcomUnavailableError,
)
from askpro.integrations.calcom.ratelimit import RateLimiter, account_id
from askpro.observability import get_logger

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ApiVersions:
    """The ``cal-api-version`` header per endpoint family (PROTOCOLS §1.3)."""

    event_types: str = "2024-06-14"
    schedules: str = "2024-06-11"
    slots: str = "2024-09-04"
    bookings: str = "2024-08-13"
    me: str = "2024-08-13"


@dataclass(frozen=True)
class Operation:
    name: str
    family: str
    timeout: float  # one HTTP attempt
    deadline: float  # all attempts, waits included
    idempotent: bool


OPERATIONS = {
    op.name: op
    for op in (
        Operation("event_types.list", "event_types", 10.0, 20.0, True),
        Operation("schedules.list", "schedules", 10.0, 20.0, True),
        Operation("teams.schedules", "schedules", 10.0, 20.0, True),
        Operation("teams.event_types", "event_types", 10.0, 20.0, True),
        Operation("slots.get", "slots", 5.0, 8.0, True),
        Operation("slots.reserve", "slots", 5.0, 8.0, False),
        Operation("slots.delete_reservation", "slots", 5.0, 8.0, True),
        Operation("bookings.create", "bookings", 15.0, 25.0, False),
        Operation("bookings.list", "bookings", 10.0, 20.0, True),
        Operation("bookings.get", "bookings", 5.0, 10.0, True),
        Operation("bookings.reschedule", "bookings", 15.0, 25.0, False),
        Operation("bookings.cancel", "bookings", 10.0, 20.0, False),
        Operation("me.get", "me", 5.0, 8.0, True),
    )
}


# Writes that look up whether a failed attempt took effect before trying again.
LOOKED_UP = frozenset({"bookings.create", "bookings.reschedule", "bookings.cancel"})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    wait_initial: float = 0.2
    wait_max: float = 2.0
    wait_jitter: float = 0.3


class CalcomTransport:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        versions: ApiVersions | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        rate_limiter: RateLimiter | None = None,
        cache: CalcomCache | None = None,
        deadlines: dict[str, float] | None = None,
        timeouts: dict[str, float] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 20,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account = account_id(api_key)
        self.versions = versions or ApiVersions()
        self.retry = retry or RetryPolicy()
        self.breaker = breaker
        self.rate_limiter = rate_limiter
        self.cache = cache
        # Per operation name ("slots.get", ...): overall deadline and per-attempt timeout.
        self._deadlines = deadlines or {}
        self._timeouts = timeouts or {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10),
            timeout=httpx.Timeout(10.0, connect=3.0),
            transport=transport,
        )

    async def __aenter__(self) -> CalcomTransport:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def invalidate_slots(self, event_type_id: int | None) -> None:
        """Forget cached slots of an event type (after anything that changes availability)."""
        if self.cache is not None and event_type_id is not None:
            await self.cache.invalidate_slots(self.account, event_type_id)

    # --- machinery -----------------------------------------------------------------------

    async def _write(
        self,
        name: str,
        path: str,
        request: Any,
        already_done: Callable[[], Awaitable[Booking | None]],
        event_type_id: int | None,
    ) -> Booking:
        """POST a non-idempotent write; before any retry, check whether it already happened."""
        ambiguous = False
        deadline = self._deadline(name)
        async for attempt in self._attempts(OPERATIONS[name], deadline):
            with attempt:
                if ambiguous:
                    found = await already_done()
                    if found is not None:
                        log.info("calcom.write_found_after_failure", endpoint=name, uid=found.uid)
                        await self.invalidate_slots(event_type_id)
                        return found
                try:
                    data = await self._send(
                        OPERATIONS[name], "POST", path, deadline=deadline, json=request
                    )
                except CalcomUnavailableError as error:
                    # The request may have reached Cal.com; only a lookup can tell.
                    ambiguous = ambiguous or not isinstance(error, CalcomCircuitOpenError)
                    raise
                booking: Booking = wire.validated(Booking, data, name)
                await self.invalidate_slots(event_type_id or booking.resolved_event_type_id)
                return booking
        raise AssertionError("unreachable: stamina re-raises the last error")

    async def _call(
        self,
        name: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        raw: bool = False,
        expect_data: bool = True,
    ) -> Any:
        operation = OPERATIONS[name]
        deadline = self._deadline(name)
        async for attempt in self._attempts(operation, deadline):
            with attempt:
                return await self._send(
                    operation,
                    method,
                    path,
                    deadline=deadline,
                    params=params,
                    json=json,
                    raw=raw,
                    expect_data=expect_data,
                )
        raise AssertionError("unreachable: stamina re-raises the last error")

    def _deadline(self, name: str) -> float:
        return time.monotonic() + self._deadlines.get(name, OPERATIONS[name].deadline)

    def _attempts(self, operation: Operation, deadline: float) -> Any:
        def backoff(error: Exception) -> bool | float:
            left = deadline - time.monotonic()
            if isinstance(error, CalcomRateLimitError):
                # Throttled requests were not processed: every operation may try again.
                if error.status == 429 and error.retry_after < left:
                    metrics.RETRIES.labels(operation.name, "rate_limited").inc()
                    return max(error.retry_after, 0.01)
                return False
            if not isinstance(error, CalcomUnavailableError) or left <= 0:
                return False
            if isinstance(error, CalcomCircuitOpenError):
                return False
            # A malformed answer is not retried blindly; a looked-up write may try again
            # (the write may have happened: the look-up before the next attempt finds it).
            retryable = operation.name in LOOKED_UP or (
                operation.idempotent and not isinstance(error, CalcomMalformedResponseError)
            )
            if retryable:
                metrics.RETRIES.labels(operation.name, "unavailable").inc()
                return True
            return False

        return stamina.retry_context(
            on=backoff,
            attempts=self.retry.attempts,
            timeout=max(deadline - time.monotonic(), 0.001),
            wait_initial=self.retry.wait_initial,
            wait_max=self.retry.wait_max,
            wait_jitter=self.retry.wait_jitter,
        )

    async def _send(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        deadline: float,
        params: dict[str, Any] | None = None,
        json: Any = None,
        raw: bool = False,
        expect_data: bool = True,
    ) -> Any:
        """One HTTP attempt through the breaker and the rate limiter; errors mapped."""
        headers = {"cal-api-version": getattr(self.versions, operation.family)}
        body = json.to_wire() if hasattr(json, "to_wire") else json
        started: float | None = None
        status = "error"
        guard = self.breaker.guard() if self.breaker is not None else contextlib.nullcontext()
        try:
            if self.breaker is not None:
                await self.breaker.reject_if_open()  # before spending rate budget
            if self.rate_limiter is not None:
                await self.rate_limiter.acquire(deadline)
            # Inside the guard: 5xx, timeouts and malformed answers count as breaker failures.
            async with guard:
                started = time.perf_counter()
                response = await self._request(operation, method, path, params, body, headers)
                status = str(response.status_code)
                return read_answer(response, operation.name, raw, expect_data)
        except CalcomError as error:
            if status == "error":
                status = type(error).__name__.removeprefix("Calcom").removesuffix("Error").lower()
            if isinstance(error, CalcomCircuitOpenError):
                raise  # counted in metrics; logging every fast failure would flood the logs
            # Our own 4xx mistakes are routine (a lookup that finds nothing); Cal.com's are not.
            level = log.warning if isinstance(error, CalcomUnavailableError) else log.info
            level(
                "calcom.request_failed",
                endpoint=operation.name,
                status=status,
                error=str(error),
                account=self.account,
            )
            raise
        finally:
            metrics.REQUESTS.labels(operation.name, status).inc()
            if started is not None:
                metrics.REQUEST_SECONDS.labels(operation.name).observe(
                    time.perf_counter() - started
                )

    async def _request(
        self,
        operation: Operation,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        timeout = self._timeouts.get(operation.name, operation.timeout)
        try:
            return await self._http.request(
                method, path, params=params, json=body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as error:
            raise wire.transport_error(error, operation.name, timeout) from None

    async def _cached(
        self,
        kind: str,
        key_parts: tuple[object, ...],
        fetch: Callable[[], Awaitable[str]],
        *,
        ttl: float | None = None,
    ) -> str:
        if self.cache is None:
            return await fetch()
        key = self.cache.key(self.account, *key_parts)
        return await self.cache.get_or_fetch(kind, key, ttl or self.cache.catalog_ttl, fetch)


def read_answer(response: httpx.Response, endpoint: str, raw: bool, expect_data: bool) -> Any:
    if response.status_code >= 300:
        raise wire.error_from_response(response, endpoint)
    if raw:
        body = wire.parse_json(response, endpoint)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise CalcomMalformedResponseError(
                "Cal.com answered without the success envelope", endpoint=endpoint
            )
        return body
    if not expect_data:
        wire.parse_json(response, endpoint)
        return None
    return wire.success_data(response, endpoint)


def list_of(model: type[T], data: Any, endpoint: str) -> list[T]:
    if not isinstance(data, list):
        raise CalcomMalformedResponseError(
            f"Cal.com's {endpoint} data is not a list", endpoint=endpoint
        )
    return [wire.validated(model, item, endpoint) for item in data]
