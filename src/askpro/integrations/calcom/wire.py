"""Reading Cal.com's answers: the envelope, the error mapping and the rate-limit headers."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import httpx
from pydantic import ValidationError

from askpro.integrations.calcom.dtos import Slot
from askpro.integrations.calcom.errors import (
    CalcomAuthenticationError,
    CalcomError,
    CalcomMalformedResponseError,
    CalcomNotFoundError,
    CalcomRateLimitError,
    CalcomSlotUnavailableError,
    CalcomUnavailableError,
    CalcomValidationError,
)

# When Cal.com gives no usable reset header, its throttler blocks for 60 s (PROTOCOLS §1.6).
DEFAULT_RATE_LIMIT_WAIT = 60.0
# handleNewBooking's `no_available_users_found_error`, as the v2 bookings service words it.
_SLOT_TAKEN = re.compile(
    r"no_available_users_found|already has booking|not available|already booked|slot.*taken",
    re.IGNORECASE,
)


def parse_json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as error:
        snippet = response.text[:80].replace("\n", " ")
        raise CalcomMalformedResponseError(
            f"Cal.com returned a body that is not JSON ({error}); it starts with {snippet!r}",
            status=response.status_code,
            endpoint=endpoint,
        ) from None


def success_data(response: httpx.Response, endpoint: str) -> Any:
    """The ``data`` of a success envelope, or the mapped :class:`CalcomError`."""
    if response.status_code >= 300:
        raise error_from_response(response, endpoint)
    body = parse_json(response, endpoint)
    if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
        raise CalcomMalformedResponseError(
            "Cal.com answered without the success envelope {status: success, data}",
            status=response.status_code,
            endpoint=endpoint,
        )
    return body["data"]


def validated(model: type[Any], data: Any, endpoint: str) -> Any:
    """``model.model_validate(data)`` with missing/invalid fields as a clear client error."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        raise CalcomMalformedResponseError(
            f"Cal.com's answer does not match {model.__name__}: {problems}", endpoint=endpoint
        ) from None


def _error_fields(response: httpx.Response) -> tuple[str | None, str, Any]:
    """(code, message, details) from Cal.com's error envelope, tolerating anything."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None, response.reason_phrase or f"HTTP {response.status_code}", None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        message = body.get("message") if isinstance(body, dict) else None
        return None, str(message or response.reason_phrase), body
    code = error.get("code")
    message = error.get("message")
    return (
        str(code) if code is not None else None,
        str(message) if message is not None else response.reason_phrase,
        error.get("details"),
    )


def seconds_until_reset(response: httpx.Response, now: float | None = None) -> float:
    """Seconds to wait after a 429: ``Retry-After`` or the largest ``X-RateLimit-Reset-*``.

    The reset value is documented as seconds until reset; values that look like Unix
    timestamps (seconds or milliseconds) are converted, since its unit is not confirmed.
    """
    now = time.time() if now is None else now
    candidates: list[float] = []
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            candidates.append(float(retry_after))
        except ValueError:
            try:
                when = dt.datetime.strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT")
                candidates.append(when.replace(tzinfo=dt.UTC).timestamp() - now)
            except ValueError:
                pass
    for name, value in response.headers.items():
        if name.lower().startswith("x-ratelimit-reset"):
            try:
                number = float(value)
            except ValueError:
                continue
            if number > 1e12:
                number = number / 1000 - now
            elif number > 1e9:
                number -= now
            candidates.append(number)
    usable = [value for value in candidates if value >= 0]
    return max(usable) if usable else DEFAULT_RATE_LIMIT_WAIT


def remaining_budget(response: httpx.Response) -> int | None:
    values = [
        int(value)
        for name, value in response.headers.items()
        if name.lower().startswith("x-ratelimit-remaining") and value.isdigit()
    ]
    return min(values) if values else None


def error_from_response(response: httpx.Response, endpoint: str) -> CalcomError:
    status = response.status_code
    code, message, details = _error_fields(response)
    common: dict[str, Any] = {"status": status, "code": code, "details": details}
    common["endpoint"] = endpoint
    if status in (401, 403, 498):
        return CalcomAuthenticationError(message, **common)
    if status == 404:
        return CalcomNotFoundError(message, **common)
    if status == 429:
        return CalcomRateLimitError(message, retry_after=seconds_until_reset(response), **common)
    if status in (400, 409, 422):
        text = f"{message} {json.dumps(details, default=str) if details else ''}"
        if status == 409 or _SLOT_TAKEN.search(text):
            return CalcomSlotUnavailableError(message, **common)
        return CalcomValidationError(message, **common)
    return CalcomUnavailableError(message or f"Cal.com answered HTTP {status}", **common)


def parse_slots(data: Any, endpoint: str) -> list[Slot]:
    """Flatten ``{date: [{start, end?}, ...]}`` (strings tolerated, as the schema declares)."""
    if not isinstance(data, dict):
        raise CalcomMalformedResponseError(
            "Cal.com's slots answer is not a map of dates", endpoint=endpoint
        )
    slots: list[Slot] = []
    for day_slots in data.values():
        if not isinstance(day_slots, list):
            raise CalcomMalformedResponseError(
                "Cal.com's slots answer has a day that is not a list", endpoint=endpoint
            )
        for item in day_slots:
            raw = {"start": item} if isinstance(item, str) else item
            slots.append(validated(Slot, raw, endpoint))
    slots.sort(key=lambda slot: slot.start)
    return slots


def transport_error(
    error: httpx.HTTPError, endpoint: str, timeout: float
) -> CalcomUnavailableError:
    if isinstance(error, httpx.TimeoutException):
        return CalcomUnavailableError(
            f"Cal.com did not answer within {timeout:g} s ({type(error).__name__})",
            endpoint=endpoint,
        )
    return CalcomUnavailableError(
        f"cannot reach Cal.com: {type(error).__name__}: {error}", endpoint=endpoint
    )
