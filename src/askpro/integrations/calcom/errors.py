"""Errors of the Cal.com client: no raw httpx exception ever leaves the client."""

from __future__ import annotations

from typing import Any


class CalcomError(Exception):
    """Any failure talking to Cal.com; ``status`` and ``code`` as Cal.com answered them."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.message}{status}{where}"


class CalcomAuthenticationError(CalcomError):
    """401/403: the API key is missing, wrong, revoked or lacks the permission."""


class CalcomNotFoundError(CalcomError):
    """404: the booking, event type or reservation does not exist."""


class CalcomValidationError(CalcomError):
    """400/409/422: Cal.com rejected the request; ``message`` and ``details`` say why."""


class CalcomSlotUnavailableError(CalcomValidationError):
    """The requested time is already booked or not available (Cal.com's double-booking answer)."""


class CalcomRateLimitError(CalcomError):
    """429 from Cal.com, or our own limiter could not grant a request within the deadline."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CalcomUnavailableError(CalcomError):
    """5xx, timeouts, connection errors and malformed answers: Cal.com cannot serve us now."""


class CalcomMalformedResponseError(CalcomUnavailableError):
    """Cal.com answered with a body that is not the JSON we expect (bad JSON, missing fields)."""


class CalcomCircuitOpenError(CalcomUnavailableError):
    """The circuit breaker for this Cal.com base URL is open: failing fast without a request."""
