"""Cal.com's answer shapes for the stand-in: envelopes, the throttler, injected faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from askpro.integrations.calcom.standin.state import StandinState, wire_time

SLOT_TAKEN = "User either already has booking at this time or is not available"
THROTTLED = "CustomThrottlerGuard - Too many requests. Please try again later."
_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
_CODES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    404: "NotFoundException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_envelope(status: int, message: str, path: str) -> dict[str, Any]:
    """Cal.com's HttpExceptionFilter body (PROTOCOLS §1.4)."""
    return {
        "status": "error",
        "timestamp": wire_time(dt.datetime.now(dt.UTC)),
        "path": path,
        "error": {
            "code": _CODES.get(status, "HttpException"),
            "message": message,
            "details": {
                "message": message,
                "error": _REASONS.get(status, "Error"),
                "statusCode": status,
            },
        },
    }


def ok(data: Any, status: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data, **extra}, status_code=status)


class Throttler:
    """Cal.com's guard: a fixed 60 s window per credential, 60 s block once exceeded."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int, float]] = {}

    def hit(self, tracker: str, limit: int) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        started, hits, blocked_until = self._windows.get(tracker, (now, 0, 0.0))
        if now - started >= 60:
            started, hits = now, 0
        hits += 1
        if hits > limit and blocked_until <= now:
            blocked_until = now + 60
        self._windows[tracker] = (started, hits, blocked_until)
        blocked = blocked_until > now
        reset = math.ceil(blocked_until - now) if blocked else math.ceil(started + 60 - now)
        headers = {
            "X-RateLimit-Limit-Default": str(limit),
            "X-RateLimit-Remaining-Default": "0" if blocked else str(max(0, limit - hits)),
            "X-RateLimit-Reset-Default": str(reset),
        }
        return not blocked, headers


async def injected_fault(state: StandinState, path: str, request: Request) -> Response | None:
    faults = state.faults
    if not path.startswith(faults.path_prefix):
        return None
    with state.lock:
        kind = None
        for name in ("rate_limited", "timeouts", "errors", "malformed"):
            if getattr(faults, name) > 0:
                setattr(faults, name, getattr(faults, name) - 1)
                kind = name
                break
    if kind == "rate_limited":
        answer = JSONResponse(error_envelope(429, THROTTLED, str(request.url)), 429)
        answer.headers.update(
            {
                "X-RateLimit-Limit-Default": str(state.rate_limit_per_minute),
                "X-RateLimit-Remaining-Default": "0",
                "X-RateLimit-Reset-Default": str(faults.rate_limit_reset_seconds),
            }
        )
        return answer
    if kind == "timeouts":
        await asyncio.sleep(faults.timeout_seconds)
        return JSONResponse(error_envelope(504, "timeout", str(request.url)), 504)
    if kind == "errors":
        status = faults.error_status
        return JSONResponse(
            error_envelope(status, "Internal server error", str(request.url)), status
        )
    if kind == "malformed":
        return Response('{"status": "success", "data": [', 200, media_type="application/json")
    return None
